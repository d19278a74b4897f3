import { PhotoFindingCode } from '../../error-codes';
import type { PhotoAnalysis } from './analyze';

/**
 * Judges photo analyses as a photographer would: per photo (one face, large enough, sharp, well
 * exposed) and across the set (the same person everywhere). Pure: thresholds in, findings out.
 */
export type Severity = 'error' | 'warning';

export interface Finding {
  code: string;
  severity: Severity;
  /** 0-based position of the photo in the upload; null for a finding about the whole set. */
  index: number | null;
  filename: string | null;
  /** What is wrong and what to do, naming the photo. */
  message: string;
}

export interface FaceThresholds {
  /** Faces other than the largest count (multiple_faces) when their box is at least this share of its width. */
  otherFaceMinRatio: number;
  /** face_too_small below this share of the photo's area covered by the face box. */
  minFaceShare: number;
  /** blurry below this variance of the Laplacian (see analyze.ts). */
  minSharpness: number;
  /** too_dark below this mean luma (0–255) of the face. */
  minLuma: number;
  /** overexposed above this share of blown-out face pixels. */
  maxClipped: number;
  /** different_person above this euclidean distance from the set's medoid face. */
  maxDistance: number;
}

export const FINDING_SEVERITY: Record<(typeof PhotoFindingCode)[keyof typeof PhotoFindingCode], Severity> = {
  no_face: 'error',
  multiple_faces: 'error',
  face_too_small: 'error',
  blurry: 'error',
  too_dark: 'warning',
  overexposed: 'warning',
  different_person: 'error',
  not_inspected: 'error',
};

type Photo = { index: number; filename: string };

/** Faces that count: the largest, and others at least `otherFaceMinRatio` of its width (a distant passer-by does not). */
export function countedFaces(analysis: PhotoAnalysis, t: FaceThresholds): number {
  const largest = analysis.faces[0];
  if (!largest) return 0;
  return analysis.faces.filter((f) => f.width >= largest.width * t.otherFaceMinRatio).length;
}

export function photoFindings(photo: Photo, analysis: PhotoAnalysis, t: FaceThresholds): Finding[] {
  const name = photo.filename;
  const faces = countedFaces(analysis, t);
  if (faces === 0) {
    return [finding(photo, PhotoFindingCode.noFace, `${name}: no face was found. Use photos where your face is clearly visible and turned towards the camera.`)];
  }
  if (faces > 1) {
    return [finding(photo, PhotoFindingCode.multipleFaces, `${name} shows ${faces} faces. Use photos of you alone, or crop the others out.`)];
  }
  const face = analysis.face!;
  const out: Finding[] = [];
  if (face.share < t.minFaceShare) {
    out.push(finding(photo, PhotoFindingCode.faceTooSmall, `${name}: the face covers ${pct(face.share)} of the photo; at least ${pct(t.minFaceShare)} is needed. Crop closer to the face or use a closer photo.`));
  }
  if (face.sharpness < t.minSharpness) {
    out.push(finding(photo, PhotoFindingCode.blurry, `${name}: the face is blurry (sharpness ${Math.round(face.sharpness)}, at least ${t.minSharpness} is needed). Use a photo in focus, taken without motion.`));
  }
  if (face.luma < t.minLuma) {
    out.push(finding(photo, PhotoFindingCode.tooDark, `${name}: the face is too dark (brightness ${Math.round(face.luma)} of 255, below ${t.minLuma}). A photo in better light will train better.`));
  }
  if (face.clipped > t.maxClipped) {
    out.push(finding(photo, PhotoFindingCode.overexposed, `${name}: ${pct(face.clipped)} of the face is blown out to white (at most ${pct(t.maxClipped)}). Use a photo without harsh light or flash on the face.`));
  }
  return out;
}

/**
 * The same person everywhere: the medoid is the single-face photo whose descriptor is closest to
 * all the others in sum (with a majority of one person, it is that person); every photo farther
 * than `maxDistance` from it is named. Needs three single-face photos to say who is the odd one.
 */
export function setFindings(photos: Array<Photo & { descriptor: number[] }>, t: FaceThresholds): Finding[] {
  if (photos.length < 3) return [];
  const distances = photos.map((a) => photos.map((b) => distance(a.descriptor, b.descriptor)));
  let medoid = 0;
  let best = Infinity;
  distances.forEach((row, i) => {
    const sum = row.reduce((s, d) => s + d, 0);
    if (sum < best) [best, medoid] = [sum, i];
  });
  return photos.flatMap((photo, i) => {
    const d = distances[medoid]![i]!;
    if (d <= t.maxDistance) return [];
    return [
      finding(
        photo,
        PhotoFindingCode.differentPerson,
        `${photo.filename} seems to show someone else than most of the set (distance ${d.toFixed(2)} from the set's typical face, above ${t.maxDistance}). Remove it or use a photo of the same person.`,
      ),
    ];
  });
}

export function notInspected(photo: Photo, reason: string): Finding {
  return finding(photo, PhotoFindingCode.notInspected, `${photo.filename} could not be inspected (${reason}). Export it again as JPEG and re-upload it.`);
}

export function distance(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - (b[i] ?? 0)) ** 2;
  return Math.sqrt(sum);
}

function finding(photo: Photo, code: keyof typeof FINDING_SEVERITY, message: string): Finding {
  return { code, severity: FINDING_SEVERITY[code], index: photo.index, filename: photo.filename, message };
}

function pct(share: number): string {
  const v = share * 100;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}%`;
}
