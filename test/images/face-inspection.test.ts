import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { preparedPathOf } from '../../src/images/prepare';
import { inspectPhotoSet, type SetReport } from '../../src/images/faces/inspect-set';
import { createFaceInspector, QueueFullError, type FaceInspector } from '../../src/images/faces/pool';
import type { ReceivedFile } from '../../src/shared/received-file';
import { blurryPhoto, darkPhoto, groupPhoto, noFacePhoto, samePersonSet, someoneElse, type FacePhoto } from '../fixtures/faces';
import { makeJpeg, receivedFile } from '../fixtures/images';
import { MINIMAL_ENV } from '../helpers/config';

/**
 * The face checks on real photos (the sample photos inside @vladmandic/face-api, cropped, flipped,
 * scaled, blurred and darkened by test/fixtures/faces.ts), through the real thread pool and model.
 */
const settings = loadConfig(MINIMAL_ENV).faceCheck;
let dir: string;
let inspector: FaceInspector;
let same: FacePhoto[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'face-inspection-'));
  inspector = createFaceInspector({ threads: 1, maxQueued: 40, maxQueuedPerAccount: 30, analyze: { maxSidePx: settings.maxSidePx, minScore: settings.minScore, maxPixels: 50_000_000 } });
  same = await samePersonSet('a');
}, 60_000);
afterAll(async () => {
  await inspector?.close();
  await rm(dir, { recursive: true, force: true });
});

async function files(photos: FacePhoto[]): Promise<ReceivedFile[]> {
  return Promise.all(photos.map((p) => receivedFile(dir, p.filename, p.buffer)));
}

async function inspect(photos: FacePhoto[], account = 'acct-1'): Promise<SetReport> {
  return inspectPhotoSet({ inspector, settings, rules: { minImages: 1, maxImages: 40 } }, account, await files(photos));
}

const codesOf = (report: SetReport) => report.findings.map((f) => [f.filename, f.code, f.severity]);

describe('when a set of ten photos of one person is inspected', () => {
  it('then it has no finding, every photo shows one face, and a training may start', async () => {
    const report = await inspect(same);
    expect(codesOf(report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, errors: 0, warnings: 0 });
    expect(report.photos.map((p) => p.faces)).toEqual(same.map(() => 1));
    for (const p of report.photos) expect(p.face!.sharpness).toBeGreaterThan(settings.thresholds.minSharpness);
  }, 120_000);
});

describe('when a set is inspected for a training (prepare)', () => {
  it('then the findings are the same, and each photo gets its prepared training JPEG beside it from the same decode', async () => {
    const set = [...same.slice(0, 3), await blurryPhoto('blurry.jpg'), await groupPhoto('group.jpg')];
    const received = await files(set);
    const report = await inspectPhotoSet({ inspector, settings, rules: { minImages: 1, maxImages: 40 } }, 'acct-1', received, { prepare: true });
    expect(codesOf(report)).toEqual(codesOf(await inspect(set)));
    for (const file of received) {
      const meta = await sharp(preparedPathOf(file.path)).metadata();
      const original = await sharp(file.path).metadata();
      expect([meta.format, meta.exif, meta.icc]).toEqual(['jpeg', undefined, undefined]);
      expect(meta.width! / meta.height!).toBeCloseTo(original.width! / original.height!, 2);
    }
  }, 120_000);
});

describe('when the set also holds a blurry photo, a group photo and a photo of someone else', () => {
  it('then all three are named in one answer, by index and file name, as errors', async () => {
    const set = [...same.slice(0, 7), await blurryPhoto('blurry.jpg'), await groupPhoto('group.jpg'), await someoneElse('b', 'someone-else.jpg')];
    const report = await inspect(set);
    expect(report.ok).toBe(false);
    expect(report.findings.map((f) => ({ index: f.index, filename: f.filename, code: f.code, severity: f.severity }))).toEqual([
      { index: 7, filename: 'blurry.jpg', code: 'blurry', severity: 'error' },
      { index: 8, filename: 'group.jpg', code: 'multiple_faces', severity: 'error' },
      { index: 9, filename: 'someone-else.jpg', code: 'different_person', severity: 'error' },
    ]);
    expect(report.photos[8]!.faces).toBeGreaterThan(1);
    expect(report.findings[1]!.message).toMatch(/^group\.jpg shows \d faces/);
  }, 120_000);
});

describe('when photos show no face, a dark face, or someone else in several photos', () => {
  it('then no_face is an error, too_dark a warning, and each other person is named', async () => {
    const set = [...same.slice(0, 5), await noFacePhoto('landscape.jpg'), await darkPhoto('dark.jpg'), await someoneElse('b', 'b.jpg'), await someoneElse('c', 'c.jpg')];
    const report = await inspect(set);
    expect(codesOf(report)).toEqual([
      ['landscape.jpg', 'no_face', 'error'],
      ['dark.jpg', 'too_dark', 'warning'],
      ['b.jpg', 'different_person', 'error'],
      ['c.jpg', 'different_person', 'error'],
    ]);
    expect(report.photos[5]!.faces).toBe(0);
    expect(report).toMatchObject({ errors: 3, warnings: 1 });
  }, 120_000);
});

describe('when a face is small in the frame or the thresholds are stricter', () => {
  it('then face_too_small and overexposed follow the configured thresholds', async () => {
    const strict = { ...settings, thresholds: { ...settings.thresholds, minFaceShare: 0.2, maxClipped: -1 } };
    const report = await inspectPhotoSet({ inspector, settings: strict, rules: { minImages: 1 } }, 'acct-1', await files([same[0]!]));
    expect(codesOf(report)).toEqual([
      ['a-01.jpg', 'face_too_small', 'error'],
      ['a-01.jpg', 'overexposed', 'warning'],
    ]);
  }, 60_000);
});

describe('when files fail the header checks', () => {
  it('then their findings come from those checks, the set-level ones have no index, and only the good files reach the model', async () => {
    const tiny = { filename: 'tiny.jpg', buffer: await makeJpeg({ width: 200, height: 200 }) };
    const report = await inspectPhotoSet({ inspector, settings, rules: { minImages: 10 } }, 'acct-1', await files([same[0]!, tiny, { ...same[0]!, filename: 'again.jpg' }]));
    expect(report.findings.map((f) => [f.index, f.code])).toEqual([
      [1, 'too_small'],
      [2, 'duplicate'],
      [null, 'too_few_images'],
    ]);
    expect(report.photos.map((p) => p.faces)).toEqual([1, null, null]);
  }, 60_000);
});

describe('when an account already has photos waiting', () => {
  it('then its next request beyond its share is refused at once, and another account is still admitted', async () => {
    const small = createFaceInspector({ threads: 1, maxQueued: 8, maxQueuedPerAccount: 6, analyze: { maxSidePx: 320, minScore: 0.3, maxPixels: 50_000_000 } });
    try {
      const paths = (await files(same.slice(0, 5))).map((f) => f.path);
      const first = small.analyze('busy', paths);
      await expect(small.analyze('busy', paths)).rejects.toEqual(new QueueFullError('account'));
      const other = small.analyze('other', paths.slice(0, 2));
      await expect(small.analyze('third', paths)).rejects.toEqual(new QueueFullError('process'));
      const [a, b] = await Promise.all([first, other]);
      expect([...a, ...b].every((o) => o.ok)).toBe(true);
    } finally {
      await small.close();
    }
  }, 120_000);

  it('then accounts take turns: a second account is not served after all of the first one', async () => {
    const order: string[] = [];
    const paths = (await files(same.slice(0, 6))).map((f) => f.path);
    const a = inspector.analyze('first', paths).then(() => order.push('first'));
    const b = inspector.analyze('second', paths.slice(0, 2)).then(() => order.push('second'));
    await Promise.all([a, b]);
    expect(order).toEqual(['second', 'first']);
  }, 120_000);
});
