import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/temporal/request-id';

/**
 * Safe deploys of workflow code, offline (no server): every history under test/histories/<release>/
 * was recorded from a real run of that release's code (`npm run record-histories`) and stands for a
 * workflow a deployed release may still be running. The current code must replay each one exactly;
 * a change to a workflow's command sequence that is not behind `patched()` fails here instead of
 * failing those workflows in production. Every `patched()` id must appear in some history, so the
 * code that runs today is replayed too, not only yesterday's.
 */

const HISTORIES_DIR = path.resolve(__dirname, '../histories');
const WORKFLOWS_DIR = path.resolve(__dirname, '../../workflows');

interface RecordedHistory {
  /** `<release>/<scenario>`, e.g. 0.1.0/generationJob-succeeded. */
  name: string;
  workflowType: string;
  history: ReturnType<typeof historyFromJSON>;
}

function loadHistories(): RecordedHistory[] {
  const releases = fs.readdirSync(HISTORIES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  return releases.flatMap((release) =>
    fs
      .readdirSync(path.join(HISTORIES_DIR, release))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((file) => {
        const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, release, file), 'utf8')));
        const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(no start event)';
        return { name: `${release}/${path.basename(file, '.json')}`, workflowType, history };
      }),
  );
}

/** The patch ids a history recorded (its `core_patch` markers). */
function patchIds(history: RecordedHistory['history']): string[] {
  return (history.events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    // The SDK's patch marker keeps its id in the `patch-data` detail (a map key, as recorded).
    const payload = marker.details?.['patch-data']?.payloads?.[0]?.data;
    return payload ? [(JSON.parse(Buffer.from(payload).toString()) as { id: string }).id] : [];
  });
}

/** Every `patched('<id>')` / `deprecatePatch('<id>')` in the workflow sources. */
function patchIdsInCode(): string[] {
  const ids = new Set<string>();
  for (const file of fs.readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith('.ts'))) {
    for (const m of fs.readFileSync(path.join(WORKFLOWS_DIR, file), 'utf8').matchAll(/\b(?:patched|deprecatePatch)\(\s*'([^']+)'\s*\)/g)) ids.add(m[1]!);
  }
  return [...ids].sort();
}

const histories = loadHistories();
const exportedWorkflows = Object.keys(workflows).filter((name) => typeof (workflows as Record<string, unknown>)[name] === 'function');

beforeAll(() => Runtime.install({ logger: new DefaultLogger('WARN') }));

describe('replaying the recorded workflow histories', () => {
  it('when the histories are listed, then every workflow exported from workflows/index.ts has at least one', () => {
    expect(exportedWorkflows.length).toBeGreaterThan(0);
    const covered = new Set(histories.map((h) => h.workflowType));
    const uncovered = exportedWorkflows.filter((name) => !covered.has(name));
    if (uncovered.length > 0) {
      throw new Error(`No recorded history in test/histories for: ${uncovered.join(', ')}. Add a scenario to tools/record-histories.ts and run \`npm run record-histories\`.`);
    }
  });

  it('when the workflow code is searched for patches, then every patched() id appears in at least one recorded history', () => {
    const recorded = new Set(histories.flatMap((h) => patchIds(h.history)));
    const unrecorded = patchIdsInCode().filter((id) => !recorded.has(id));
    if (unrecorded.length > 0) {
      throw new Error(`No recorded history takes the patched path of: ${unrecorded.join(', ')}. Record the current code's histories with \`npm run record-histories\`.`);
    }
  });

  it('when every history is replayed against the current workflow code, then none hits a non-deterministic change', async () => {
    // Bundled here, as a deploy would, with the same interceptor modules as the worker: no server needed.
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
    });
    const results: ReplayResult[] = [];
    const replay = Worker.runReplayHistories(
      { workflowBundle: { code }, replayName: 'replay-test' },
      histories.map((h) => ({ workflowId: h.name, history: h.history })),
    );
    for await (const result of replay) results.push(result);

    const outcome = results.map((r) => ({ history: r.workflowId, error: r.error ? `${r.error.name}: ${r.error.message}` : undefined }));
    expect(outcome).toEqual(histories.map((h) => ({ history: h.name, error: undefined })));
  }, 120_000);
});
