import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { readStackInfo } from '../helpers/stack-info';

/**
 * Safe deploys of workflow code: every history in test/histories was recorded from a real run
 * (scripts/record-histories.ts) and stands for a workflow the deployed code may be running. The
 * current code must replay each one exactly; a change to a workflow's command sequence that is
 * not behind `patched()` fails here instead of failing those workflows in production.
 */

const HISTORIES_DIR = path.resolve(__dirname, '../histories');

interface RecordedHistory {
  /** The file name without .json, e.g. generationJob-succeeded. */
  name: string;
  workflowType: string;
  history: ReturnType<typeof historyFromJSON>;
}

function loadHistories(): RecordedHistory[] {
  const files = fs.existsSync(HISTORIES_DIR) ? fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort() : [];
  return files.map((file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
    const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(no start event)';
    return { name: path.basename(file, '.json'), workflowType, history };
  });
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
      throw new Error(
        `No recorded history in test/histories for: ${uncovered.join(', ')}. ` +
          'Add a scenario to scripts/record-histories.ts and run `npm run record-histories`.',
      );
    }
  });

  it('when every history is replayed against the current workflow code, then none hits a non-deterministic change', async () => {
    const results: ReplayResult[] = [];
    // The bundle the global setup built from the current workflows (with the interceptor modules) saves a second webpack run.
    const replay = Worker.runReplayHistories(
      { workflowBundle: { codePath: readStackInfo().workflowBundlePath }, replayName: 'replay-test' },
      histories.map((h) => ({ workflowId: h.name, history: h.history })),
    );
    for await (const result of replay) results.push(result);

    const outcome = results.map((r) => ({ history: r.workflowId, error: r.error ? `${r.error.name}: ${r.error.message}` : undefined }));
    expect(outcome).toEqual(histories.map((h) => ({ history: h.name, error: undefined })));
  });
});
