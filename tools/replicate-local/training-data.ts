import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { InputError } from './input-error';
import { detectImageType } from './magic-bytes';

/** Entries that zip tools add and trainers ignore: directories, macOS metadata, dotfiles. */
function isIgnorable(fileName: string): boolean {
  const base = fileName.split('/').pop() ?? '';
  return fileName.endsWith('/') || fileName.startsWith('__MACOSX/') || base.startsWith('.');
}

function openZip(zip: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, zipfile) => (err ? reject(err) : resolve(zipfile)));
  });
}

function openEntry(zipfile: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zipfile.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Calls `onEntry` for each zip entry in order, waiting for it before reading the next one. */
function eachEntry(zipfile: yauzl.ZipFile, onEntry: (entry: yauzl.Entry) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    zipfile.on('entry', (entry: yauzl.Entry) => onEntry(entry).then(() => zipfile.readEntry(), reject));
    zipfile.on('end', () => resolve());
    zipfile.on('error', reject);
    zipfile.readEntry();
  });
}

/**
 * Checks that a training archive is a zip holding only images (by magic bytes) and at least one;
 * returns the image count. Throws an InputError describing the first problem.
 */
export async function countTrainingImages(zip: Buffer): Promise<number> {
  let zipfile: yauzl.ZipFile;
  try {
    zipfile = await openZip(zip);
  } catch (err) {
    throw new InputError(`input_images is not a valid zip archive: ${err instanceof Error ? err.message : String(err)}`);
  }
  let images = 0;
  try {
    await eachEntry(zipfile, async (entry) => {
      if (isIgnorable(entry.fileName)) return;
      const data = await readAll(await openEntry(zipfile, entry));
      if (!detectImageType(data)) throw new InputError(`input_images contains a file that is not an image: ${entry.fileName}`);
      images++;
    });
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`input_images is a corrupt zip archive: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    zipfile.close();
  }
  if (images === 0) throw new InputError('input_images contains no images');
  return images;
}

/** A small, valid safetensors file (no tensors, just metadata) standing in for trained LoRA weights. */
export function loraWeights(metadata: Record<string, string>): Buffer {
  const json = Buffer.from(JSON.stringify({ __metadata__: metadata }));
  const header = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header]);
}
