import { InputError } from './input-error';

const DOWNLOAD_TIMEOUT_MS = 60_000;

/** Where a URL points, without the query string (presigned URLs carry credentials there). */
export function describeUrl(url: string): string {
  if (url.startsWith('data:')) return 'a data URI';
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

/** Downloads a file input (http(s) or data: URI); failures become an InputError naming the input field. */
export async function downloadInput(url: string, field: string, signal: AbortSignal): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]) });
  } catch (err) {
    signal.throwIfAborted();
    throw new InputError(`Failed to download ${field} from ${describeUrl(url)}: ${errorMessage(err)}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new InputError(`Failed to download ${field} from ${describeUrl(url)}: HTTP ${response.status} ${response.statusText}`);
  }
  return Buffer.from(await response.arrayBuffer());
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
