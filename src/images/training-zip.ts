import archiver, { type Archiver } from 'archiver';
import type { Readable } from 'stream';
import { prepareTrainingImage } from './prepare';

/** The training zip: prepared photos (src/images/prepare.ts) as entries 0001.jpg, 0002.jpg, … */

export interface ZipEntrySource {
  name: string;
  /** Called only when the entry is about to be written, so one image is in flight at a time. */
  source: () => NodeJS.ReadableStream;
}

export interface ZipStream {
  stream: NodeJS.ReadableStream;
  /** Resolves once the archive has been fully produced; rejects (and errors `stream`) on failure. */
  done: Promise<{ bytes: number }>;
}

/**
 * A fixed timestamp makes identical inputs give byte-identical archives. A string, not a Date:
 * archiver replaces anything that fails its `instanceof Date` check (a Date from another realm,
 * such as Jest's sandbox) with the current time.
 */
const ZIP_ENTRY_DATE = '2000-01-01T00:00:00.000Z';

/** Entries named 0001.jpg, 0002.jpg, … in path order, each a prepared training image. */
export function trainingZipEntries(paths: string[]): ZipEntrySource[] {
  return paths.map((path, index) => ({
    name: `${String(index + 1).padStart(4, '0')}.jpg`,
    source: () => prepareTrainingImage(path),
  }));
}

/**
 * Streams a zip of the entries, appended one after another (the next source is opened only when
 * the previous entry is written), in store mode because JPEGs do not compress further.
 * Nothing is buffered beyond stream high-water marks; pipe `stream` into the destination.
 */
export function zipImagesStream(entries: ZipEntrySource[]): ZipStream {
  const archive = archiver('zip', { store: true });
  const done = writeEntries(archive, entries);
  // The failure also reaches the consumer through `stream`; don't crash if `done` is never awaited.
  done.catch(() => undefined);
  return { stream: archive, done };
}

async function writeEntries(archive: Archiver, entries: ZipEntrySource[]): Promise<{ bytes: number }> {
  try {
    for (const entry of entries) await appendEntry(archive, entry);
    await archive.finalize();
    return { bytes: archive.pointer() };
  } catch (err) {
    // Destroy rather than end: a consumer must never mistake a partial archive for a complete one.
    archive.destroy(err as Error);
    throw err;
  }
}

/** Resolves once the entry is written; rejects as soon as its source or the archive fails. */
function appendEntry(archive: Archiver, entry: ZipEntrySource): Promise<void> {
  return new Promise((resolve, reject) => {
    const source = entry.source();
    const finish = (err?: Error): void => {
      archive.off('entry', onEntry).off('error', finish).off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onEntry = (): void => finish();
    const onClose = (): void => finish(new Error('The zip stream was closed before it was complete'));
    // archiver ignores source errors: a failing image would silently become an empty entry.
    // This listener stays, so an error that comes after the entry is written cannot crash the process.
    source.once('error', finish);
    archive.once('entry', onEntry).once('error', finish).once('close', onClose);
    archive.append(source as Readable, { name: entry.name, date: ZIP_ENTRY_DATE });
  });
}
