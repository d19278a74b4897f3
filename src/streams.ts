import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through that hashes (sha256) and counts the bytes flowing through it. */
export function meter(): { stream: Transform; sizeBytes: () => number; sha256: () => string } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, sizeBytes: () => size, sha256: () => hash.digest('hex') };
}

