/**
 * Bench photos: one noisy JPEG (realistic size and decode cost) per spec, and `count` distinct
 * files made from it by a unique JPEG comment right after the start-of-image marker (a different
 * sha256, the same pixels and decode cost). Cached under .bench/photos/ between runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface PhotoSpec {
  count: number;
  width: number;
  height: number;
  /** JPEG quality and Gaussian noise sigma: 4000×3000, q96, σ30 gives about 10 MB. */
  quality: number;
  sigma: number;
}

export async function benchPhotos(root: string, spec: PhotoSpec): Promise<string[]> {
  const dir = path.join(root, `${spec.width}x${spec.height}-q${spec.quality}-s${spec.sigma}`);
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, 'base.jpg');
  if (!fs.existsSync(base)) {
    const buf = await sharp({
      create: { width: spec.width, height: spec.height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: spec.sigma } },
    })
      .jpeg({ quality: spec.quality })
      .toBuffer();
    fs.writeFileSync(`${base}.tmp`, buf);
    fs.renameSync(`${base}.tmp`, base);
  }
  let bytes: Buffer | undefined;
  const out: string[] = [];
  for (let i = 1; i <= spec.count; i++) {
    const file = path.join(dir, `photo-${String(i).padStart(2, '0')}.jpg`);
    if (!fs.existsSync(file)) {
      bytes ??= fs.readFileSync(base);
      fs.writeFileSync(file, withComment(bytes, `imagegen bench photo ${i}`));
    }
    out.push(file);
  }
  return out;
}

/** The JPEG with a comment segment (COM) right after its start-of-image marker. */
export function withComment(jpeg: Buffer, comment: string): Buffer {
  const text = Buffer.from(comment);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xfffe, 0); // COM marker
  head.writeUInt16BE(text.length + 2, 2); // the length counts itself
  return Buffer.concat([jpeg.subarray(0, 2), head, text, jpeg.subarray(2)]);
}
