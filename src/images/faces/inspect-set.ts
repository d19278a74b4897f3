import type { FaceCheckSettings } from '../../config';
import type { ReceivedFile } from '../../shared/received-file';
import { checkTrainingImages, validationResult, type ImageRules, type ValidationResult } from '../validate';
import { countedFaces, notInspected, photoFindings, setFindings, type Finding } from './findings';
import type { FaceInspector } from './pool';

/**
 * A training set inspected as a whole: the header-first checks (validate.ts) for every file, then
 * the face checks for the files that passed them, then the set's same-person check. Every finding
 * of every photo comes back at once, each with the photo's index and file name.
 */
export interface PhotoReport {
  index: number;
  filename: string;
  /** As decoded for inspection (bounded by FACE_CHECK_MAX_SIDE_PX); null when it was not decoded. */
  width: number | null;
  height: number | null;
  /** Faces that count (see findings.ts); null when the photo was not inspected. */
  faces: number | null;
  /** The largest face: box in the decoded image and its measurements, for the console and support. */
  face: { box: { x: number; y: number; width: number; height: number }; share: number; sharpness: number; luma: number; clipped: number } | null;
  findings: Finding[];
}

export interface SetReport {
  /** No error finding: a training may start with these photos. */
  ok: boolean;
  errors: number;
  warnings: number;
  photos: PhotoReport[];
  /** Every finding, photo by photo, then those about the whole set (index null). */
  findings: Finding[];
  /** The header-first verdict, in the shape the training upload always answered. */
  validation: ValidationResult;
}

export async function inspectPhotoSet(
  deps: { inspector: FaceInspector; settings: FaceCheckSettings; rules: Partial<ImageRules> },
  account: string,
  files: ReceivedFile[],
  opts: { prepare?: boolean } = {},
): Promise<SetReport> {
  const headers = await checkTrainingImages(files, deps.rules);
  const photos: PhotoReport[] = headers.checks.map((check, index) => ({
    index,
    filename: check.file.filename,
    width: null,
    height: null,
    faces: null,
    face: null,
    findings: check.issues.map((issue) => ({ code: issue.code, severity: 'error', index, filename: check.file.filename, message: issue.message })),
  }));
  const inspectable = headers.checks.map((check, index) => ({ check, index })).filter(({ check }) => check.image !== undefined && check.issues.length === 0);
  const outcomes = await deps.inspector.analyze(
    account,
    inspectable.map(({ check }) => check.file.path),
    opts,
  );
  const t = deps.settings.thresholds;
  const described: Array<{ index: number; filename: string; descriptor: number[] }> = [];
  inspectable.forEach(({ index }, i) => {
    const photo = photos[index]!;
    const outcome = outcomes[i]!;
    if (!outcome.ok) {
      photo.findings.push(notInspected(photo, outcome.error));
      return;
    }
    const { analysis } = outcome;
    photo.width = analysis.width;
    photo.height = analysis.height;
    photo.faces = countedFaces(analysis, t);
    const largest = analysis.faces[0];
    if (analysis.face && largest) {
      const { descriptor, ...measured } = analysis.face;
      photo.face = { box: { x: largest.x, y: largest.y, width: largest.width, height: largest.height }, ...round(measured) };
      if (photo.faces === 1) described.push({ index, filename: photo.filename, descriptor });
    }
    photo.findings.push(...photoFindings(photo, analysis, t));
  });
  for (const f of setFindings(described, t)) photos[f.index!]!.findings.push(f);
  const setLevel: Finding[] = headers.problems.map((p) => ({ code: p.code, severity: 'error', index: null, filename: null, message: p.message }));
  const findings = [...photos.flatMap((p) => p.findings), ...setLevel];
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { ok: errors === 0, errors, warnings: findings.length - errors, photos, findings, validation: validationResult(headers) };
}

function round(m: { share: number; sharpness: number; luma: number; clipped: number }) {
  return {
    share: Math.round(m.share * 10_000) / 10_000,
    sharpness: Math.round(m.sharpness * 10) / 10,
    luma: Math.round(m.luma * 10) / 10,
    clipped: Math.round(m.clipped * 10_000) / 10_000,
  };
}
