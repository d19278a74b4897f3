import type { ReceivedFile } from '../shared/received-file';
import { formatBytes, formatMegapixels } from './format';
import { inspectImageFile, type ImageInfo, type ImageType } from './inspect';

export type ImageIssueCode =
  // per file
  | 'unsupported_type'
  | 'too_small'
  | 'file_too_large'
  | 'too_many_pixels'
  | 'unreadable'
  | 'duplicate'
  // per upload
  | 'total_too_large'
  | 'too_few_images'
  | 'too_many_images';

export interface ImageIssue {
  code: ImageIssueCode;
  /** Says what is wrong and what to do, naming the file. */
  message: string;
}

export interface ImageRules {
  /** Both sides, after EXIF orientation, must be at least this many pixels. */
  minSide: number;
  /** Header-declared width × height cap; guards against decompression bombs. */
  maxPixels: number;
  maxFileBytes: number;
  maxTotalBytes: number;
  minImages: number;
  maxImages: number;
}

const MIB = 1024 * 1024;

export const DEFAULT_IMAGE_RULES: Readonly<ImageRules> = Object.freeze({
  minSide: 512,
  // 48 MP phone cameras exist; far beyond that is a bomb, not a selfie.
  maxPixels: 50_000_000,
  maxFileBytes: 25 * MIB,
  maxTotalBytes: 300 * MIB,
  minImages: 10,
  maxImages: 30,
});

export interface ValidImage {
  filename: string;
  path: string;
  sha256: string;
  sizeBytes: number;
  type: ImageType;
  /** As displayed, after EXIF orientation. */
  width: number;
  height: number;
}

export interface FileIssues {
  filename: string;
  issues: ImageIssue[];
}

export type ValidationResult =
  | { ok: true; images: ValidImage[] }
  /** `files` lists only files with issues; `problems` are about the upload as a whole. */
  | { ok: false; files: FileIssues[]; problems: ImageIssue[] };

const INSPECT_CONCURRENCY = 4;
const TYPE_NAMES: Record<ImageType, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP' };

export interface FileCheck {
  file: ReceivedFile;
  issues: ImageIssue[];
  image?: ValidImage;
}

/**
 * Checks every file (header-first, never decoding pixels) and the upload as a whole,
 * reporting all problems at once so the user can fix them in one go.
 */
export async function validateTrainingImages(
  files: ReceivedFile[],
  rules: Partial<ImageRules> = {},
): Promise<ValidationResult> {
  return validationResult(await checkTrainingImages(files, rules));
}

export interface ImageChecks {
  /** One per file, in upload order; `image` is set when the file has no issue. */
  checks: FileCheck[];
  problems: ImageIssue[];
}

/** The same checks, per file in upload order (the photo inspection reports by index). */
export async function checkTrainingImages(files: ReceivedFile[], rules: Partial<ImageRules> = {}): Promise<ImageChecks> {
  const limits: ImageRules = { ...DEFAULT_IMAGE_RULES, ...rules };
  const checks = await mapConcurrently(files, INSPECT_CONCURRENCY, (file) => checkFile(file, limits));
  addDuplicateIssues(checks);
  return { checks, problems: uploadProblems(files, limits) };
}

export function validationResult({ checks, problems }: ImageChecks): ValidationResult {
  const failed = checks.filter((check) => check.issues.length > 0);
  if (failed.length === 0 && problems.length === 0) {
    return { ok: true, images: checks.map((check) => check.image).filter((image) => image !== undefined) };
  }
  return { ok: false, files: failed.map(({ file, issues }) => ({ filename: file.filename, issues })), problems };
}

async function checkFile(file: ReceivedFile, rules: ImageRules): Promise<FileCheck> {
  // A truncated file is only a prefix of what was sent: nothing else about it can be judged.
  if (file.truncated) return { file, issues: [fileTooLarge(file, rules)] };
  const issues = file.sizeBytes > rules.maxFileBytes ? [fileTooLarge(file, rules)] : [];
  const info = await inspectImageFile(file.path);
  issues.push(...imageIssues(file, info, rules));
  if (issues.length > 0 || info.status !== 'image') return { file, issues };
  const { filename, path, sha256, sizeBytes } = file;
  return { file, issues, image: { filename, path, sha256, sizeBytes, type: info.type, width: info.width, height: info.height } };
}

function imageIssues(file: ReceivedFile, info: ImageInfo, rules: ImageRules): ImageIssue[] {
  const name = file.filename;
  switch (info.status) {
    case 'unsupported':
      return [unsupportedType(file, info.mediaType)];
    case 'unreadable':
      return [issue('unreadable', `${name} could not be read as a ${TYPE_NAMES[info.type]} image; it may be damaged. Export it again and re-upload it.`)];
    case 'image': {
      const size = `${info.width}×${info.height} px`;
      const issues: ImageIssue[] = [];
      if (info.pixels > rules.maxPixels) {
        const limit = formatMegapixels(rules.maxPixels);
        issues.push(issue('too_many_pixels', `${name} is ${size} (${formatMegapixels(info.pixels)}); photos can have at most ${limit}. Resize it and re-upload it.`));
      }
      if (Math.min(info.width, info.height) < rules.minSide) {
        issues.push(issue('too_small', `${name} is ${size}; both sides must be at least ${rules.minSide} px`));
      }
      if (!info.complete) issues.push(issue('unreadable', `${name} is incomplete (the file is cut off). Upload it again.`));
      return issues;
    }
  }
}

function issue(code: ImageIssueCode, message: string): ImageIssue {
  return { code, message };
}

function unsupportedType(file: ReceivedFile, mediaType: string | null): ImageIssue {
  const actual = mediaType === null ? 'its contents are not a recognised image format' : `its contents are ${mediaType}`;
  const declared = file.declaredType && file.declaredType !== mediaType ? `, although it was sent as ${file.declaredType}` : '';
  return issue('unsupported_type', `${file.filename} is not a JPEG, PNG or WebP photo (${actual}${declared}). Save it as JPEG and re-upload it.`);
}

function fileTooLarge(file: ReceivedFile, rules: ImageRules): ImageIssue {
  const actual = file.truncated ? 'larger than' : `${formatBytes(file.sizeBytes)}; the limit is`;
  return issue('file_too_large', `${file.filename} is ${actual} ${formatBytes(rules.maxFileBytes)} per photo`);
}

/** Flags every file whose content repeats an earlier file's, naming the earlier one. */
function addDuplicateIssues(checks: FileCheck[]): void {
  const firstByHash = new Map<string, ReceivedFile>();
  for (const check of checks) {
    const { file } = check;
    if (file.truncated) continue;
    const first = firstByHash.get(file.sha256);
    if (first === undefined) {
      firstByHash.set(file.sha256, file);
      continue;
    }
    check.issues.push(issue('duplicate', `${file.filename} is the same photo as ${first.filename}; remove one of them`));
  }
}

function uploadProblems(files: ReceivedFile[], rules: ImageRules): ImageIssue[] {
  const problems: ImageIssue[] = [];
  const totalBytes = files.reduce((sum, file) => sum + file.sizeBytes, 0);
  if (totalBytes > rules.maxTotalBytes) {
    const limit = formatBytes(rules.maxTotalBytes);
    problems.push(issue('total_too_large', `The photos add up to ${formatBytes(totalBytes)}; the total must be at most ${limit}`));
  }
  if (files.length < rules.minImages) {
    problems.push(issue('too_few_images', `Upload at least ${rules.minImages} photos; you sent ${files.length}`));
  }
  if (files.length > rules.maxImages) {
    problems.push(issue('too_many_images', `Upload at most ${rules.maxImages} photos; you sent ${files.length}`));
  }
  return problems;
}

/** Like Promise.all over items.map(fn), with at most `limit` calls in flight; keeps input order. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
