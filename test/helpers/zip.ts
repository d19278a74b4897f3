import yauzl from 'yauzl';
import type { Storage } from '../../src/storage/s3';

/** An object of the bucket, whole. */
export async function readObject(storage: Storage, key: string): Promise<Buffer> {
  const object = await storage.getStream(key);
  if (!object) throw new Error(`${key} is not in the bucket`);
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every entry of a zip in the bucket, by name, in archive order. */
export async function zipEntries(storage: Storage, key: string): Promise<Map<string, Buffer>> {
  const zip = await readObject(storage, key);
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, archive) => {
      if (err) return reject(err);
      const entries = new Map<string, Buffer>();
      archive.on('entry', (entry: yauzl.Entry) => {
        archive.openReadStream(entry, (openErr, stream) => {
          if (openErr) return reject(openErr);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            archive.readEntry();
          });
          stream.on('error', reject);
        });
      });
      archive.on('end', () => resolve(entries));
      archive.on('error', reject);
      archive.readEntry();
    });
  });
}
