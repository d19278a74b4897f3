import { mkdtemp, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import type { ReceivedFile } from '../../src/shared/received-file';
import { DEFAULT_IMAGE_RULES, validateTrainingImages, type ImageIssue } from '../../src/images/validate';
import { makeBomb, makeGif, makeJpeg, makePng, makeTextFile, makeWebp, receivedFile, truncate } from '../fixtures/images';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'validate-test-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

/** Lets one or two files be checked without tripping the image-count rule. */
const ANY_COUNT = { minImages: 1, maxImages: 100 };

async function goodPhotos(count: number, prefix = 'photo'): Promise<ReceivedFile[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) =>
      receivedFile(dir, `${prefix}-${i + 1}.jpg`, await makeJpeg({ width: 512, height: 640 })),
    ),
  );
}

/** The issues reported for one file, or a failure if the file was not reported. */
async function issuesFor(file: ReceivedFile, rules = {}): Promise<ImageIssue[]> {
  const result = await validateTrainingImages([file], { ...ANY_COUNT, ...rules });
  if (result.ok) throw new Error(`${file.filename} passed validation`);
  const entry = result.files.find((f) => f.filename === file.filename);
  if (entry === undefined) throw new Error(`${file.filename} was not reported`);
  return entry.issues;
}

describe('validateTrainingImages', () => {
  it('accepts 10 good JPEG, PNG and WebP photos, in upload order, with their displayed size', async () => {
    const files = [
      ...(await goodPhotos(8)),
      await receivedFile(dir, 'scan.png', await makePng({ width: 800, height: 600 }), 'image/png'),
      await receivedFile(dir, 'rotated.webp', await makeWebp({ width: 700, height: 700 }), 'image/webp'),
    ];
    const result = await validateTrainingImages(files);
    expect(result).toEqual({
      ok: true,
      images: files.map((file) =>
        expect.objectContaining({ filename: file.filename, path: file.path, sha256: file.sha256, sizeBytes: file.sizeBytes }),
      ),
    });
    if (!result.ok) return;
    expect(result.images.map((image) => image.type)).toEqual([...Array(8).fill('jpeg'), 'png', 'webp']);
    expect(result.images[8]).toMatchObject({ width: 800, height: 600 });
  });

  it('uses the size after EXIF orientation', async () => {
    const file = await receivedFile(dir, 'portrait.jpg', await makeJpeg({ width: 1000, height: 600, orientation: 8 }));
    const result = await validateTrainingImages([file], ANY_COUNT);
    expect(result).toEqual({ ok: true, images: [expect.objectContaining({ width: 600, height: 1000 })] });
  });

  it('reports a too-small photo with its size as displayed', async () => {
    const small = await receivedFile(dir, 'photo.jpg', await makeJpeg({ width: 400, height: 300 }));
    expect(await issuesFor(small)).toEqual([
      { code: 'too_small', message: 'photo.jpg is 400×300 px; both sides must be at least 512 px' },
    ]);
    const turned = await receivedFile(dir, 'turned.jpg', await makeJpeg({ width: 1000, height: 400, orientation: 6 }));
    expect(await issuesFor(turned)).toEqual([
      { code: 'too_small', message: 'turned.jpg is 400×1000 px; both sides must be at least 512 px' },
    ]);
  });

  it('honours a custom minimum side', async () => {
    const file = await receivedFile(dir, 'medium.jpg', await makeJpeg({ width: 800, height: 800 }));
    expect(await issuesFor(file, { minSide: 1024 })).toEqual([expect.objectContaining({ code: 'too_small' })]);
  });

  it('reports content that is not JPEG, PNG or WebP, whatever the name and declared type say', async () => {
    const notes = await receivedFile(dir, 'notes.jpg', makeTextFile(), 'image/jpeg');
    expect(await issuesFor(notes)).toEqual([
      {
        code: 'unsupported_type',
        message:
          'notes.jpg is not a JPEG, PNG or WebP photo (its contents are not a recognised image format, although it was sent as image/jpeg). Save it as JPEG and re-upload it.',
      },
    ]);
    const gif = await receivedFile(dir, 'party.gif', await makeGif({ width: 600, height: 600 }), 'image/gif');
    const [issue] = await issuesFor(gif);
    expect(issue).toEqual({ code: 'unsupported_type', message: expect.stringContaining('its contents are image/gif)') });
  });

  it('reports a file cut off by the per-file upload limit without inspecting it', async () => {
    const file = { ...(await receivedFile(dir, 'huge.jpg', Buffer.alloc(1000))), truncated: true };
    expect(await issuesFor(file, { maxFileBytes: 999 })).toEqual([
      { code: 'file_too_large', message: 'huge.jpg is larger than 999 bytes per photo' },
    ]);
  });

  it('reports a file over maxFileBytes with its size', async () => {
    const file = await receivedFile(dir, 'big.jpg', await makeJpeg({ width: 1200, height: 1200, noise: true }));
    expect(await issuesFor(file, { maxFileBytes: 100 * 1024 })).toEqual([
      { code: 'file_too_large', message: expect.stringMatching(/^big\.jpg is [\d.]+ (KB|MB); the limit is 100 KB per photo$/) },
    ]);
  });

  it('reports a decompression bomb from its header', async () => {
    const bomb = await receivedFile(dir, 'bomb.png', makeBomb(), 'image/png');
    expect(bomb.sizeBytes).toBeLessThan(1024);
    expect(await issuesFor(bomb)).toEqual([
      {
        code: 'too_many_pixels',
        message: `bomb.png is 20000×20000 px (400 MP); photos can have at most ${DEFAULT_IMAGE_RULES.maxPixels / 1e6} MP. Resize it and re-upload it.`,
      },
    ]);
  });

  it('reports truncated and damaged files as unreadable', async () => {
    const jpeg = await makeJpeg({ width: 800, height: 800, noise: true });
    const cut = await receivedFile(dir, 'cut.jpg', truncate(jpeg, Math.floor(jpeg.length * 0.6)));
    expect(await issuesFor(cut)).toEqual([
      { code: 'unreadable', message: 'cut.jpg is incomplete (the file is cut off). Upload it again.' },
    ]);
    const webp = await makeWebp({ width: 800, height: 800, noise: true });
    const damaged = await receivedFile(dir, 'damaged.webp', truncate(webp, webp.length - 10), 'image/webp');
    expect(await issuesFor(damaged)).toEqual([
      { code: 'unreadable', message: 'damaged.webp could not be read as a WebP image; it may be damaged. Export it again and re-upload it.' },
    ]);
  });

  it('names the earlier file when a photo is uploaded twice', async () => {
    const content = await makeJpeg({ width: 600, height: 600 });
    const first = await receivedFile(dir, 'me.jpg', content);
    const again = await receivedFile(dir, 'me (1).jpg', content);
    const result = await validateTrainingImages([first, again], ANY_COUNT);
    expect(result).toEqual({
      ok: false,
      files: [{ filename: 'me (1).jpg', issues: [{ code: 'duplicate', message: 'me (1).jpg is the same photo as me.jpg; remove one of them' }] }],
      problems: [],
    });
  });

  it('reports too few and too many photos even when each one is fine', async () => {
    const tooFew = await validateTrainingImages(await goodPhotos(9));
    expect(tooFew).toEqual({
      ok: false,
      files: [],
      problems: [{ code: 'too_few_images', message: 'Upload at least 10 photos; you sent 9' }],
    });
    const tooMany = await validateTrainingImages(await goodPhotos(31));
    expect(tooMany).toEqual({
      ok: false,
      files: [],
      problems: [{ code: 'too_many_images', message: 'Upload at most 30 photos; you sent 31' }],
    });
  });

  it('reports a total size over the limit', async () => {
    const files = await goodPhotos(3);
    const total = files.reduce((sum, file) => sum + file.sizeBytes, 0);
    const result = await validateTrainingImages(files, { ...ANY_COUNT, maxTotalBytes: total - 1 });
    expect(result).toEqual({
      ok: false,
      files: [],
      problems: [{ code: 'total_too_large', message: expect.stringMatching(/^The photos add up to .+; the total must be at most .+$/) }],
    });
  });

  it('reports every problem of every file, and of the upload, in one result', async () => {
    const good = await goodPhotos(3, 'good');
    const tiny = await makeJpeg({ width: 200, height: 200 });
    const jpeg = await makeJpeg({ width: 900, height: 900, noise: true });
    const bad = [
      await receivedFile(dir, 'tiny.jpg', tiny),
      await receivedFile(dir, 'notes.jpg', makeTextFile(), 'image/jpeg'),
      await receivedFile(dir, 'bomb.png', makeBomb(), 'image/png'),
      await receivedFile(dir, 'cut.jpg', truncate(jpeg, 5000)),
      await receivedFile(dir, 'tiny again.jpg', tiny),
    ];
    const result = await validateTrainingImages([good[0]!, bad[0]!, good[1]!, bad[1]!, bad[2]!, good[2]!, bad[3]!, bad[4]!]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const codes = Object.fromEntries(result.files.map((file) => [file.filename, file.issues.map((issue) => issue.code)]));
    expect(codes).toEqual({
      'tiny.jpg': ['too_small'],
      'notes.jpg': ['unsupported_type'],
      'bomb.png': ['too_many_pixels'],
      'cut.jpg': ['unreadable'],
      'tiny again.jpg': ['too_small', 'duplicate'],
    });
    expect(result.problems.map((problem) => problem.code)).toEqual(['too_few_images']);
  });
});
