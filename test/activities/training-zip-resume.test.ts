import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { Storage } from '../../src/storage/s3';
import { photos } from '../helpers/factories';
import { startTestEnv, type TestEnv } from '../helpers/test-env';
import { readObject, zipEntries } from '../helpers/zip';

/** Every zip entry's name, from the archive in the bucket. */
async function zipEntryNames(storage: Storage, key: string): Promise<string[]> {
  return [...(await zipEntries(storage, key)).keys()];
}

/** The real storage, counting which uploaded photos are read. */
function countingReads(storage: Storage, reads: string[]): Storage {
  return {
    ...storage,
    getStream: (key) => {
      reads.push(key);
      return storage.getStream(key);
    },
  };
}

describe('the training zip', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ worker: false });
  });
  afterAll(() => env?.stop());

  it('when photos stored as uploaded are zipped again after an attempt died part-way, then the next attempt resumes after the photos its heartbeat says are prepared, and the zip is whole', async () => {
    const versionId = randomUUID();
    const images = await photos(5, 256);
    const uploadKeys = images.map((_, i) => `versions/${versionId}/uploads/${i}.jpg`);
    await Promise.all(images.map((img, i) => env.runtime.storage.putStream(uploadKeys[i]!, Readable.from([img]), 'image/jpeg')));

    // Attempt 1 dies at the fourth photo (here: the photo is briefly unreadable).
    await env.runtime.storage.remove([uploadKeys[3]!]);
    const first = new MockActivityEnvironment({ attempt: 1, heartbeatTimeoutMs: 10_000 });
    const heartbeats: unknown[] = [];
    first.on('heartbeat', (d: unknown) => heartbeats.push(d));
    await expect(first.run(createActivities(env.runtime).buildTrainingZip, { versionId, uploadKeys })).rejects.toMatchObject({ type: 'training_photo_missing' });
    expect(heartbeats.at(-1)).toEqual({ prepared: 3 });

    // Attempt 2 gets that heartbeat back and prepares only what is left.
    await env.runtime.storage.putStream(uploadKeys[3]!, Readable.from([images[3]!]), 'image/jpeg');
    const reads: string[] = [];
    const second = new MockActivityEnvironment({ attempt: 2, heartbeatTimeoutMs: 10_000, heartbeatDetails: heartbeats.at(-1) });
    const acts = createActivities({ ...env.runtime, storage: countingReads(env.runtime.storage, reads) });
    const zip = (await second.run(acts.buildTrainingZip, { versionId, uploadKeys })) as { key: string; bytes: number };

    expect(reads.filter((k) => k.includes('/uploads/'))).toEqual([uploadKeys[3], uploadKeys[4]]);
    expect(await zipEntryNames(env.runtime.storage, zip.key)).toEqual(['0001.jpg', '0002.jpg', '0003.jpg', '0004.jpg', '0005.jpg']);
    // The prepared copies are cleaned up once the zip is stored.
    expect(await env.runtime.storage.exists(`versions/${versionId}/prepared/0001.jpg`)).toBe(false);

    // An attempt after the zip was stored returns it without redoing anything.
    const third = new MockActivityEnvironment({ attempt: 3, heartbeatDetails: { prepared: 5, zipBytes: zip.bytes } });
    const reads3: string[] = [];
    const again = await third.run(createActivities({ ...env.runtime, storage: countingReads(env.runtime.storage, reads3) }).buildTrainingZip, { versionId, uploadKeys });
    expect(again).toEqual(zip);
    expect(reads3).toEqual([]);
  });

  it('when the API stored the photos prepared, then the zip packs them byte for byte: each read once, nothing decoded or written but the zip', async () => {
    const versionId = randomUUID();
    const images = await photos(4, 256);
    const uploadKeys = images.map((_, i) => `versions/${versionId}/uploads/${String(i + 1).padStart(4, '0')}.jpg`);
    await Promise.all(images.map((img, i) => env.runtime.storage.putStream(uploadKeys[i]!, Readable.from([img]), 'image/jpeg')));
    const reads: string[] = [];
    const writes: string[] = [];
    const counting = countingReads(env.runtime.storage, reads);
    const storage: Storage = { ...counting, putStream: (key, body, type) => (writes.push(key), counting.putStream(key, body, type)) };
    const env1 = new MockActivityEnvironment({ attempt: 1, heartbeatTimeoutMs: 10_000 });
    const zip = (await env1.run(createActivities({ ...env.runtime, storage }).buildTrainingZip, { versionId, uploadKeys, prepared: true })) as { key: string };

    expect(reads).toEqual(uploadKeys);
    expect(writes).toEqual([zip.key]);
    const entries = await zipEntries(env.runtime.storage, zip.key);
    expect([...entries.keys()]).toEqual(['0001.jpg', '0002.jpg', '0003.jpg', '0004.jpg']);
    for (const [i, key] of uploadKeys.entries()) expect(entries.get(`000${i + 1}.jpg`)!.equals(await readObject(env.runtime.storage, key))).toBe(true);
  });
});
