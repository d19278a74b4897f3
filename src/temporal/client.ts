import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

/** One Temporal client per process, created at start-up and closed on shutdown. */
export async function createTemporalClient(cfg: Config['temporal']): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.address });
  return new Client({ connection, namespace: cfg.namespace });
}
