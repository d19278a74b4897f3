import { open, type FileHandle } from 'fs/promises';
import sharp from 'sharp';
import { SNIFF_LENGTH, sniffMediaType, type SniffedMediaType } from './sniff';

export type ImageType = 'jpeg' | 'png' | 'webp';

/** Size as a person sees the photo: width and height after EXIF orientation. */
export interface ImageSize {
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when absent); 5–8 swap the stored width and height. */
  orientation: number;
  pixels: number;
}

/**
 * What the file's bytes and header say; never decodes pixel data.
 * - `image`: a JPEG/PNG/WebP with a readable header; `complete` is false when the file is cut off.
 * - `unsupported`: the bytes are not JPEG/PNG/WebP (`mediaType` is what they are, if recognised).
 * - `unreadable`: JPEG/PNG/WebP magic bytes, but the header cannot be parsed.
 */
export type ImageInfo =
  | ({ status: 'image'; type: ImageType; complete: boolean } & ImageSize)
  | { status: 'unsupported'; mediaType: SniffedMediaType | null }
  | { status: 'unreadable'; type: ImageType; reason: string };

const IMAGE_TYPES: Partial<Record<SniffedMediaType, ImageType>> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
};
const JPEG_EOI = Buffer.from([0xff, 0xd9]);
const JPEG_SOS = 0xda;
const PNG_IEND_CHUNK = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
const SCAN_CHUNK_BYTES = 64 * 1024;

/** The real image type from the magic bytes, whatever the file name or declared type says. */
export function sniffImageType(buf: Buffer): ImageType | null {
  const mediaType = sniffMediaType(buf);
  return mediaType === null ? null : (IMAGE_TYPES[mediaType] ?? null);
}

export async function inspectImageFile(path: string): Promise<ImageInfo> {
  const file = await open(path, 'r');
  try {
    const head = await readAt(file, 0, SNIFF_LENGTH);
    const mediaType = sniffMediaType(head);
    const type = mediaType === null ? undefined : IMAGE_TYPES[mediaType];
    if (type === undefined) return { status: 'unsupported', mediaType };
    const header = await readHeader(path);
    if ('reason' in header) return { status: 'unreadable', type, reason: header.reason };
    const { size } = await file.stat();
    return { status: 'image', type, complete: await isComplete(type, file, size), ...header };
  } finally {
    await file.close();
  }
}

/** sharp's metadata() parses the header only. Its pixel limit is off here: judging size is the caller's job. */
async function readHeader(path: string): Promise<ImageSize | { reason: string }> {
  try {
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    return {
      width: meta.autoOrient.width,
      height: meta.autoOrient.height,
      orientation: meta.orientation ?? 1,
      pixels: meta.width * meta.height,
    };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

/** Cheap end-of-file checks that catch truncated uploads without decoding. */
async function isComplete(type: ImageType, file: FileHandle, size: number): Promise<boolean> {
  switch (type) {
    case 'jpeg':
      return jpegHasEnd(file, size);
    case 'png':
      return (await readTail(file, size, PNG_IEND_CHUNK.length)).equals(PNG_IEND_CHUNK);
    case 'webp':
      // libwebp's demuxer already refuses, while reading the header, a file shorter than its RIFF size.
      return true;
  }
}

/**
 * A JPEG normally ends with the EOI marker. Some phones append data after it (e.g. motion photos),
 * so otherwise look for an EOI anywhere after the scan data starts (EXIF thumbnails have their own EOI).
 */
async function jpegHasEnd(file: FileHandle, size: number): Promise<boolean> {
  if ((await readTail(file, size, JPEG_EOI.length)).equals(JPEG_EOI)) return true;
  const scanStart = await jpegScanStart(file, size);
  return scanStart !== null && (await containsBytes(file, JPEG_EOI, scanStart, size));
}

/** Walks the marker segments after SOI up to the first start-of-scan; returns where its data begins. */
async function jpegScanStart(file: FileHandle, size: number): Promise<number | null> {
  let pos = 2;
  while (pos + 4 <= size) {
    const segment = await readAt(file, pos, 4);
    if (segment[0] !== 0xff) return null;
    if (segment[1] === 0xff) {
      pos += 1; // fill byte before a marker
      continue;
    }
    const next = pos + 2 + segment.readUInt16BE(2);
    if (segment[1] === JPEG_SOS) return next;
    pos = next;
  }
  return null;
}

async function containsBytes(file: FileHandle, needle: Buffer, from: number, to: number): Promise<boolean> {
  const step = SCAN_CHUNK_BYTES - (needle.length - 1); // chunks overlap so a split needle is still found
  for (let pos = from; pos < to; pos += step) {
    if ((await readAt(file, pos, Math.min(SCAN_CHUNK_BYTES, to - pos))).includes(needle)) return true;
  }
  return false;
}

function readTail(file: FileHandle, size: number, length: number): Promise<Buffer> {
  return readAt(file, Math.max(0, size - length), length);
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}
