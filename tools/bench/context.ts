import type { Client } from '@temporalio/client';
import type { LocalReplicate } from '../replicate-local/server';
import type { StackInfo } from '../dev/stack-info';
import type { Engine } from './engine';

/** What every row gets: the stack, the bench's own Temporal client and local provider, and settings. */
export interface BenchContext {
  quick: boolean;
  stack: StackInfo;
  /** The stack's data dir when the bench started it (lets the report attribute CPU to it). */
  stackDataDir?: string;
  /** This run's folder under .bench/ (child logs). */
  runDir: string;
  /** .bench/ */
  benchDir: string;
  floorBundlePath: string;
  temporal: Client;
  /** The local Replicate-compatible server, in this process (knobs and stats() per row). */
  replicate: LocalReplicate;
  /** REPLICATE_CREATE_RATE_PER_SECOND the services run with (see run.ts). */
  createRatePerSecond: number;
  /** The Temporal server of this run (tools/bench/engine.ts); the chaos rows start their own of the same kind. */
  engine: Engine;
  log(line: string): void;
}
