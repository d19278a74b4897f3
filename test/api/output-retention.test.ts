import { ensureOutputExpirySchedule } from '../../src/temporal/schedules';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Outputs you control: every output shows `expires_at` (the job's `retention` from when it was
 * stored, within OUTPUT_RETENTION_MAX_SECONDS), DELETE /jobs/{id}/outputs removes the files and
 * keeps the job, its metadata and its ledger, and the expiry schedule deletes expired outputs.
 */
const FLUX = 'black-forest-labs/flux-schnell';
const MAX_SECONDS = 3 * 24 * 3600;
const DEFAULT_SECONDS = 24 * 3600;

let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ env: { OUTPUT_RETENTION_MAX_SECONDS: String(MAX_SECONDS), OUTPUT_RETENTION_DEFAULT_SECONDS: String(DEFAULT_SECONDS) } });
  user = await fundedUser(env, 1000);
});
afterAll(() => env?.stop());

async function finishedJob(body: object): Promise<Record<string, any>> {
  const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'kept a while', ...body });
  expect(res.status).toBe(202);
  return env.waitForJob(user, res.body.job_id, 60_000);
}

const secondsBetween = (a: string, b: string) => (new Date(b).getTime() - new Date(a).getTime()) / 1000;

describe('retention', () => {
  it('when a job asks for a retention as an ISO 8601 duration or in seconds, then each output expires that long after the job completed', async () => {
    for (const [retention, seconds] of [['PT12H', 12 * 3600], [7200, 7200], ['P1DT30M', 86_400 + 1800]] as const) {
      const job = await finishedJob({ retention, num_outputs: 2 });
      expect(job.status).toBe('succeeded');
      for (const o of job.outputs) {
        expect(o.deleted_at).toBeNull();
        // Stored just before the job completed: within a few seconds of completed_at + retention.
        expect(Math.abs(secondsBetween(job.completed_at, o.expires_at) - seconds)).toBeLessThan(10);
      }
    }
  });

  it('when a job asks for none, then its outputs get the configured default', async () => {
    const job = await finishedJob({});
    expect(Math.abs(secondsBetween(job.completed_at, job.outputs[0].expires_at) - DEFAULT_SECONDS)).toBeLessThan(10);
  });

  it('when the retention is above the maximum or not a duration, then the answer is 422 naming retention and no job is made', async () => {
    const jobs = await env.db.job.count({ where: { userId: user.id } });
    for (const retention of [MAX_SECONDS + 1, 'P4D', 'P1M', '7 days', 0, 'PT']) {
      const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'too long', retention });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
      expect(JSON.stringify(res.body.error)).toContain('retention');
    }
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(jobs);
  });
});

describe('DELETE /api/v1/jobs/{job_id}/outputs', () => {
  it('when a finished job\'s outputs are deleted, then the files leave the bucket, the outputs show deleted_at and no url, the download is 404, and the job, its metadata and its ledger stay', async () => {
    const job = await finishedJob({ num_outputs: 2 });
    const keys = (await env.db.jobOutput.findMany({ where: { jobId: job.job_id }, orderBy: { index: 'asc' } })).map((o) => o.s3Key);
    for (const key of keys) expect(await env.runtime.storage.exists(key)).toBe(true);
    const ledger = await env.db.creditLedger.findMany({ where: { jobId: job.job_id }, orderBy: { id: 'asc' } });

    const res = await env.api.delete(`/api/v1/jobs/${job.job_id}/outputs`).set(user.auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ job_id: job.job_id, status: 'succeeded', credits_spent: job.credits_spent });
    for (const [i, o] of res.body.outputs.entries()) {
      expect(o).toMatchObject({ index: i, url: null, sha256: job.outputs[i].sha256, size_bytes: job.outputs[i].size_bytes, expires_at: job.outputs[i].expires_at });
      expect(typeof o.deleted_at).toBe('string');
    }
    for (const key of keys) expect(await env.runtime.storage.exists(key)).toBe(false);
    expect(await env.db.creditLedger.findMany({ where: { jobId: job.job_id }, orderBy: { id: 'asc' } })).toEqual(ledger);
    const status = await env.api.get(`/api/v1/status/${job.job_id}`).set(user.auth).expect(200);
    expect(status.body.outputs.map((o: any) => o.url)).toEqual([null, null]);
    const download = await env.api.get(`/api/v1/download/${job.job_id}?index=0`).set(user.auth);
    expect(download.status).toBe(404);
    await env.api.get(`/api/v1/jobs/${job.job_id}/metadata`).set(user.auth).expect(200);

    // Deleting again changes nothing.
    const again = await env.api.delete(`/api/v1/jobs/${job.job_id}/outputs`).set(user.auth).expect(200);
    expect(again.body.outputs.map((o: any) => o.deleted_at)).toEqual(res.body.outputs.map((o: any) => o.deleted_at));
  });

  it('when the job is still running, then the answer is 409 job_not_finished and nothing changes', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'slow', parameters: { fake_latency_ms: 3000 } }).expect(202);
    const del = await env.api.delete(`/api/v1/jobs/${res.body.job_id}/outputs`).set(user.auth);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('job_not_finished');
    const job = await env.waitForJob(user, res.body.job_id, 60_000);
    expect(job.outputs[0]).toMatchObject({ deleted_at: null });
    expect(job.outputs[0].url).toEqual(expect.any(String));
  });

  it('when another account deletes the outputs, then it is 404 and the files stay', async () => {
    const job = await finishedJob({});
    const other = await env.createUser();
    await env.api.delete(`/api/v1/jobs/${job.job_id}/outputs`).set(other.auth).expect(404);
    const key = (await env.db.jobOutput.findFirstOrThrow({ where: { jobId: job.job_id } })).s3Key;
    expect(await env.runtime.storage.exists(key)).toBe(true);
  });
});

describe('the expiry schedule', () => {
  it('when the schedule runs, then outputs past their expires_at are deleted from the bucket and marked, and the others are untouched', async () => {
    const short = await finishedJob({ retention: 1, num_outputs: 2 });
    const long = await finishedJob({ retention: 'PT1H' });
    await eventually(async () => Date.now() > new Date(short.outputs[1].expires_at).getTime() + 100, 10_000, 100);

    const scheduleId = await ensureOutputExpirySchedule(env.temporal, env.config);
    const schedule = env.temporal.schedule.getHandle(scheduleId);
    try {
      await schedule.trigger();
      const deleted = await eventually(async () => {
        const rows = await env.db.jobOutput.findMany({ where: { jobId: short.job_id } });
        return rows.every((r) => r.deletedAt !== null) ? rows : undefined;
      }, 30_000, 200);
      for (const r of deleted) expect(await env.runtime.storage.exists(r.s3Key)).toBe(false);
      const kept = await env.db.jobOutput.findFirstOrThrow({ where: { jobId: long.job_id } });
      expect(kept.deletedAt).toBeNull();
      expect(await env.runtime.storage.exists(kept.s3Key)).toBe(true);
      // The list reads the rows (GET /status may serve its few-seconds-old view of a finished job).
      const list = await env.api.get('/api/v1/jobs?status=succeeded&limit=100').set(user.auth).expect(200);
      const view = list.body.items.find((j: any) => j.job_id === short.job_id);
      expect(view).toMatchObject({ status: 'succeeded', credits_spent: short.credits_spent });
      expect(view.outputs.map((o: any) => o.url)).toEqual([null, null]);
    } finally {
      await schedule.delete();
    }
  });
});
