import sharp, { type Sharp } from 'sharp';
import { hashBytes } from './hash';
import { InputError } from './input-error';

export type ImageFormat = 'png' | 'jpg' | 'webp';

export const IMAGE_CONTENT_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
};

export interface ImageSpec {
  prompt: string;
  seed: number;
  index: number;
  width: number;
  height: number;
  format: ImageFormat;
}

/** Cells per side of the mosaic drawn before upscaling; nearest-neighbour upscaling keeps encoding fast. */
const MOSAIC_CELLS = 8;
const BASE_AREA = 1024 * 1024;

/** Width and height (multiples of 64, about one megapixel) for an aspect ratio like "16:9". */
export function sizeForAspectRatio(ratio: string): { width: number; height: number } {
  const [w = 1, h = 1] = ratio.split(':').map(Number);
  const round64 = (n: number) => Math.max(64, Math.round(n / 64) * 64);
  return { width: round64(Math.sqrt((BASE_AREA * w) / h)), height: round64(Math.sqrt((BASE_AREA * h) / w)) };
}

/** A real image, deterministic in (prompt, seed, index) plus size and format: a hash-coloured gradient mosaic. */
export async function generateImage(spec: ImageSpec): Promise<Buffer> {
  const pixels = mosaicPixels(`${spec.prompt}\u0000${spec.seed}\u0000${spec.index}`);
  const image = sharp(pixels, { raw: { width: MOSAIC_CELLS, height: MOSAIC_CELLS, channels: 3 } }).resize(
    spec.width,
    spec.height,
    { kernel: 'nearest', fit: 'fill' },
  );
  return encode(image, spec.format);
}

/**
 * Image-to-image: the input image (fitted within 1024px), hue-rotated by an angle derived from
 * (prompt, seed, index). Throws an InputError if the input cannot be decoded.
 */
export async function transformImage(input: Buffer, spec: Omit<ImageSpec, 'width' | 'height'>): Promise<Buffer> {
  const hue = hashBytes(`${spec.prompt}\u0000${spec.seed}\u0000${spec.index}`, 2).readUInt16BE(0) % 360;
  try {
    const image = sharp(input).rotate().resize(1024, 1024, { fit: 'inside', withoutEnlargement: true });
    return await encode(image.modulate({ hue, saturation: 1.2 }), spec.format);
  } catch (err) {
    throw new InputError(`Input image could not be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function encode(image: Sharp, format: ImageFormat): Promise<Buffer> {
  switch (format) {
    case 'png':
      return image.png({ compressionLevel: 6 }).toBuffer();
    case 'jpg':
      return image.jpeg({ quality: 90 }).toBuffer();
    case 'webp':
      return image.webp({ quality: 80, effort: 0 }).toBuffer();
  }
}

/** RGB pixels of a diagonal gradient between two hash-derived colours, with per-cell jitter. */
function mosaicPixels(key: string): Buffer {
  const cells = MOSAIC_CELLS;
  const bytes = hashBytes(key, 6 + cells * cells);
  const pixels = Buffer.alloc(cells * cells * 3);
  for (let cell = 0; cell < cells * cells; cell++) {
    const t = ((cell % cells) + Math.floor(cell / cells)) / (2 * (cells - 1));
    const jitter = ((bytes[6 + cell] ?? 0) - 128) / 4;
    for (let c = 0; c < 3; c++) {
      const value = (bytes[c] ?? 0) * (1 - t) + (bytes[3 + c] ?? 0) * t + jitter;
      pixels[cell * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return pixels;
}
