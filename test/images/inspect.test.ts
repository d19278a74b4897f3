import { mkdtemp, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import { inspectImageFile } from '../../src/images/inspect';
import { makeBomb, makeGif, makeJpeg, makePng, makeTextFile, makeWebp, truncate } from '../fixtures/images';

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inspect-test-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

async function inspect(content: Buffer) {
  const path = join(dir, `${++counter}.bin`);
  await writeFile(path, content);
  return inspectImageFile(path);
}

describe('inspectImageFile', () => {
  it('reports the size as displayed, after EXIF orientation', async () => {
    const info = await inspect(await makeJpeg({ width: 1000, height: 500, orientation: 6 }));
    expect(info).toEqual({ status: 'image', type: 'jpeg', complete: true, width: 500, height: 1000, orientation: 6, pixels: 500_000 });
  });

  it('reads PNG and WebP headers', async () => {
    expect(await inspect(await makePng({ width: 640, height: 480 }))).toMatchObject({ status: 'image', type: 'png', width: 640, height: 480, orientation: 1, complete: true });
    expect(await inspect(await makeWebp({ width: 640, height: 480 }))).toMatchObject({ status: 'image', type: 'webp', width: 640, height: 480, complete: true });
  });

  it('judges the type by the bytes', async () => {
    expect(await inspect(makeTextFile())).toEqual({ status: 'unsupported', mediaType: null });
    expect(await inspect(await makeGif({ width: 600, height: 600 }))).toEqual({ status: 'unsupported', mediaType: 'image/gif' });
  });

  it('reads the declared size of a decompression bomb from its header', async () => {
    expect(await inspect(makeBomb())).toMatchObject({ status: 'image', type: 'png', width: 20_000, height: 20_000, pixels: 400_000_000, complete: true });
  });

  it('notices a JPEG cut off after its header', async () => {
    const jpeg = await makeJpeg({ width: 800, height: 800, noise: true });
    expect(await inspect(truncate(jpeg, jpeg.length / 2))).toMatchObject({ status: 'image', width: 800, complete: false });
  });

  it('accepts a JPEG with data appended after its end marker, as motion photos have', async () => {
    const jpeg = await makeJpeg({ width: 800, height: 800, noise: true });
    const trailer = Buffer.concat([Buffer.from('ftypmp42'), Buffer.alloc(200_000, 0x42)]);
    expect(await inspect(Buffer.concat([jpeg, trailer]))).toMatchObject({ status: 'image', complete: true });
  });

  it('notices a PNG without its IEND chunk', async () => {
    const png = await makePng({ width: 600, height: 600, noise: true });
    expect(await inspect(truncate(png, png.length - 200))).toMatchObject({ status: 'image', type: 'png', complete: false });
  });

  it('reports a WebP shorter than its RIFF header says as unreadable', async () => {
    const webp = await makeWebp({ width: 600, height: 600, noise: true });
    expect(await inspect(truncate(webp, webp.length - 1))).toMatchObject({ status: 'unreadable', type: 'webp' });
  });

  it('reports a file with image magic bytes but a broken header as unreadable', async () => {
    const info = await inspect(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 0x11)]));
    expect(info).toMatchObject({ status: 'unreadable', type: 'jpeg' });
  });
});
