import sharp, { type Sharp } from 'sharp';
import type { Readable } from 'stream';

export const TRAINING_JPEG_QUALITY = 92;
/**
 * The longest side a training photo keeps. The trainer (ostris/flux-dev-lora-trainer) trains at
 * 512, 768 and 1024 px buckets, so nothing above 1024 reaches the model; 1536 leaves room for its
 * crops. Resizing down lets libvips decode a JPEG at a fraction of its size (shrink-on-load: a
 * 12 MP photo is decoded at 2000×1500, a quarter of the pixels), which bounds the worker's memory.
 */
export const TRAINING_IMAGE_MAX_SIDE = 1536;

/**
 * The image as the trainer should get it: upright (EXIF orientation applied), at most
 * TRAINING_IMAGE_MAX_SIDE on its longest side (never enlarged), re-encoded as JPEG (every format,
 * PNG and WebP too, so entries are uniform; transparency becomes white) and stripped of all
 * metadata. sharp writes no EXIF (so no GPS/location), XMP, IPTC or ICC profile unless asked to,
 * and converts the pixels to sRGB.
 */
export function prepareTrainingImage(input: string | Readable): NodeJS.ReadableStream {
  const transform = trainingPixels(typeof input === 'string' ? sharp(input) : sharp()).jpeg({ quality: TRAINING_JPEG_QUALITY });
  if (typeof input === 'string') return transform;
  input.once('error', (err) => transform.destroy(err));
  return input.pipe(transform);
}

/**
 * The pixels of a prepared training photo (upright, bounded, on white): prepareTrainingImage
 * encodes them; the face inspection (src/images/faces/analyze.ts) analyzes them and encodes the
 * same ones, so an uploaded photo is decoded once.
 */
export function trainingPixels(image: Sharp): Sharp {
  return image
    .autoOrient()
    .resize({ width: TRAINING_IMAGE_MAX_SIDE, height: TRAINING_IMAGE_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' });
}

/** Where a training upload's received photo gets its prepared JPEG: beside it, in the upload's temp directory. */
export const preparedPathOf = (receivedPath: string) => `${receivedPath}.prepared.jpg`;

/** Writes a received photo's prepared JPEG to preparedPathOf(path) (what the inspection does in the same decode). */
export async function writePreparedTrainingImage(path: string): Promise<void> {
  await trainingPixels(sharp(path)).jpeg({ quality: TRAINING_JPEG_QUALITY }).toFile(preparedPathOf(path));
}
