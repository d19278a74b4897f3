/**
 * Files the API received from a multipart form (src/http/multipart.ts) into a temp directory:
 * what the services that check and store them (uploads, training photos, inspection) take.
 */
export interface ReceivedFile {
  field: string;
  filename: string;
  declaredType: string;
  path: string;
  /** Bytes kept on disk; for a truncated file that is maxFileBytes + 1. */
  sizeBytes: number;
  sha256: string;
  /** The file exceeded maxFileBytes: the rest was discarded, so the caller can report it as too large. */
  truncated: boolean;
}

export interface ReceivedUpload {
  files: ReceivedFile[];
  fields: Record<string, string>;
  dir: string;
  /** Removes the temp directory and every file in it. */
  cleanup(): Promise<void>;
}
