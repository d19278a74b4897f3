import { mkdtemp, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { Readable } from 'stream';
import { buffer } from 'stream/consumers';
import yauzl from 'yauzl';
import { prepareTrainingImage, TRAINING_IMAGE_MAX_SIDE } from '../../src/images/prepare';
import { trainingZipEntries, zipImagesStream } from '../../src/images/training-zip';
import { makeJpeg, makePng, makeTextFile, makeWebp } from '../fixtures/images';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prepare-test-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

async function saved(name: string, content: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

interface ZipEntry {
  name: string;
  compressionMethod: number;
  modified: string;
  data: Buffer;
}

function readZip(zip: Buffer): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (openError, archive) => {
      if (openError) return reject(openError);
      const entries: ZipEntry[] = [];
      archive.on('error', reject);
      archive.on('end', () => resolve(entries));
      archive.on('entry', (entry: yauzl.Entry) => {
        archive.openReadStream(entry, (readError, stream) => {
          if (readError) return reject(readError);
          buffer(stream).then((data) => {
            const modified = entry.getLastModDate({ timezone: 'UTC' }).toISOString();
            entries.push({ name: entry.fileName, compressionMethod: entry.compressionMethod, modified, data });
            archive.readEntry();
          }, reject);
        });
      });
      archive.readEntry();
    });
  });
}

/** Stored 1000×500, left half red and right half blue, with EXIF orientation 6 (shown turned 90° clockwise). */
async function sidewaysPhoto(): Promise<Buffer> {
  const blueHalf = { create: { width: 500, height: 500, channels: 3 as const, background: '#0000ff' } };
  return sharp({ create: { width: 1000, height: 500, channels: 3, background: '#ff0000' } })
    .composite([{ input: blueHalf, left: 500, top: 0 }])
    .jpeg()
    .withExif({ IFD0: { Make: 'FixtureCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

async function pixel(image: Buffer, left: number, top: number): Promise<number[]> {
  const data = await sharp(image).extract({ left, top, width: 1, height: 1 }).raw().toBuffer();
  return [...data];
}

describe('prepareTrainingImage', () => {
  it('turns the photo upright and strips EXIF, GPS and all other metadata', async () => {
    const input = await sidewaysPhoto();
    const inputMeta = await sharp(input).metadata();
    expect(inputMeta.orientation).toBe(6);
    expect(inputMeta.exif?.includes(Buffer.from([0x25, 0x88]))).toBe(true); // the GPS IFD pointer tag

    const output = await buffer(prepareTrainingImage(await saved('sideways.jpg', input)));
    const meta = await sharp(output).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 500, height: 1000 });
    expect(meta.orientation).toBeUndefined();
    expect([meta.exif, meta.xmp, meta.iptc, meta.icc]).toEqual([undefined, undefined, undefined, undefined]);
    expect(output.includes('Exif\0\0')).toBe(false);
    expect(output.includes('FixtureCam')).toBe(false);

    const [top, bottom] = [await pixel(output, 250, 100), await pixel(output, 250, 900)];
    expect(top[0]).toBeGreaterThan(200); // red on top: the stored left edge
    expect(bottom[2]).toBeGreaterThan(200);
  });

  it('when a photo is larger than the trainer uses, then its zip entry is at most TRAINING_IMAGE_MAX_SIDE on its longest side, upright and without metadata; a small one keeps its size', async () => {
    // 4000×3000 as stored, left half red and right half blue, EXIF orientation 6 and GPS: a phone photo.
    const large = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#ff0000' } })
      .composite([{ input: { create: { width: 2000, height: 3000, channels: 3, background: '#0000ff' } }, left: 2000, top: 0 }])
      .jpeg({ quality: 90 })
      .withExif({ IFD0: { Make: 'FixtureCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const smallPhoto = await makeJpeg({ width: 640, height: 480 });
    // As the worker does it: each photo arrives as a stream (from the bucket) and is prepared when its entry is written.
    const { stream, done } = zipImagesStream(
      [large, smallPhoto].map((photo, index) => ({ name: `${index + 1}.jpg`, source: () => prepareTrainingImage(Readable.from([photo])) })),
    );
    const [bounded, small] = (await readZip(await buffer(stream))).map((entry) => entry.data);
    await done;

    const meta = await sharp(bounded).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 1152, height: TRAINING_IMAGE_MAX_SIDE });
    expect([meta.orientation, meta.exif, meta.xmp, meta.iptc, meta.icc]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(bounded!.includes('FixtureCam')).toBe(false);
    expect((await pixel(bounded!, 576, 100))[0]).toBeGreaterThan(200); // red on top, as in the upright photo
    expect((await pixel(bounded!, 576, 1400))[2]).toBeGreaterThan(200);

    expect(await sharp(small).metadata()).toMatchObject({ width: 640, height: 480 });
  });

  it('re-encodes PNG and WebP as JPEG, flattening transparency onto white', async () => {
    const transparentPng = await sharp({ create: { width: 600, height: 600, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const fromPng = await buffer(prepareTrainingImage(await saved('clear.png', transparentPng)));
    expect(await sharp(fromPng).metadata()).toMatchObject({ format: 'jpeg', channels: 3, width: 600 });
    expect((await pixel(fromPng, 300, 300)).every((value) => value > 250)).toBe(true);

    const fromWebp = await buffer(prepareTrainingImage(await saved('photo.webp', await makeWebp({ width: 640, height: 512 }))));
    expect(await sharp(fromWebp).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 512 });
  });
});

describe('zipImagesStream', () => {
  let paths: string[];

  beforeAll(async () => {
    paths = [
      await saved('a.jpg', await makeJpeg({ width: 1000, height: 500, orientation: 6, gps: true })),
      await saved('b.png', await makePng({ width: 600, height: 700 })),
      await saved('c.webp', await makeWebp({ width: 512, height: 512, noise: true })),
    ];
  });

  it('streams the prepared images as stored entries 0001.jpg, 0002.jpg, …', async () => {
    const { stream, done } = zipImagesStream(trainingZipEntries(paths));
    const zip = await buffer(stream);
    expect(await done).toEqual({ bytes: zip.length });

    const entries = await readZip(zip);
    expect(entries.map(({ name, compressionMethod, modified }) => ({ name, compressionMethod, modified }))).toEqual(
      ['0001.jpg', '0002.jpg', '0003.jpg'].map((name) => ({ name, compressionMethod: 0, modified: '2000-01-01T00:00:00.000Z' })),
    );
    const sizes = await Promise.all(entries.map(async (entry) => sharp(entry.data).metadata()));
    expect(sizes.map(({ format, width, height, exif }) => ({ format, width, height, exif }))).toEqual([
      { format: 'jpeg', width: 500, height: 1000, exif: undefined },
      { format: 'jpeg', width: 600, height: 700, exif: undefined },
      { format: 'jpeg', width: 512, height: 512, exif: undefined },
    ]);
  });

  it('produces byte-identical archives from identical inputs', async () => {
    const first = await buffer(zipImagesStream(trainingZipEntries(paths)).stream);
    const second = await buffer(zipImagesStream(trainingZipEntries(paths)).stream);
    expect(second.equals(first)).toBe(true);
  });

  it('opens each source only after the previous entry is written', async () => {
    const log: string[] = [];
    const entries = [1, 2, 3].map((n) => ({
      name: `${n}.bin`,
      source: () => {
        log.push(`open ${n}`);
        return Readable.from(
          (async function* () {
            yield Buffer.alloc(256 * 1024, n);
            log.push(`end ${n}`);
          })(),
        );
      },
    }));
    const { stream, done } = zipImagesStream(entries);
    await buffer(stream);
    await done;
    expect(log).toEqual(['open 1', 'end 1', 'open 2', 'end 2', 'open 3', 'end 3']);
  });

  it('fails the stream and `done` when an image cannot be prepared', async () => {
    const broken = await saved('broken.jpg', makeTextFile());
    const { stream, done } = zipImagesStream(trainingZipEntries([paths[0]!, broken, paths[1]!]));
    await expect(buffer(stream)).rejects.toThrow();
    await expect(done).rejects.toThrow(/unsupported image format|Input file/i);
  });
});
