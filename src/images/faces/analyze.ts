import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { TRAINING_JPEG_QUALITY, trainingPixels } from '../prepare';
import { LeanTinyFaceDetector } from './detector';
import { LeanFaceRecognitionNet } from './recognition';

/**
 * What one photo shows, measured in a face-inspection thread (src/images/faces/thread.ts).
 * Judging it (which finding, which threshold) happens in findings.ts, on the API's side.
 */
export interface PhotoAnalysis {
  /** Size of the decoded, oriented and bounded image the measurements refer to. */
  width: number;
  height: number;
  /** Every face the detector found above its minimum score, largest first. */
  faces: Array<{ x: number; y: number; width: number; height: number; score: number }>;
  /** Measurements of the largest face (absent when there is none). */
  face?: {
    /** Face box area over photo area. */
    share: number;
    /**
     * Variance of the Laplacian of the face: greyscale, scaled to SHARPNESS_SIDE² px and stretched
     * to the full 0–255 range first, so a dark or flat-lit face is not taken for a blurry one.
     */
    sharpness: number;
    /** Mean luma (0–255) of the face's inner region. */
    luma: number;
    /** Share of the face's inner pixels that are blown out (luma ≥ 250). */
    clipped: number;
    /** 128-number face descriptor (face-api's recognition net); compared by euclidean distance. */
    descriptor: number[];
  };
}

export interface AnalyzeOptions {
  /** The photo is decoded to fit in this many px on its longer side before anything else. */
  maxSidePx: number;
  /** Detector score below which a detection is ignored. */
  minScore: number;
  /** The header check's pixel cap, so a decompression bomb is refused here too. */
  maxPixels: number;
}

/** The face is scaled to this square before its sharpness is measured, so photos of any size compare. */
export const SHARPNESS_SIDE = 128;
/**
 * Tiny face detector input sizes, tried in turn until one finds a face: 320 first (SSD MobileNet
 * takes 400–500 ms a photo here, over the budget), then 224 and 416, whose grids catch faces the
 * first one scores low (large or tilted faces, blur). Only photos where 320 finds nothing pay for
 * the others. sharp scales the photo to each size (lanczos), so the net never sees the full decode.
 */
const DETECTOR_INPUTS = [320, 224, 416];

/** The tiny face detector and the recognition net with lean forward passes (detector.ts, recognition.ts); face-api's own instances stay unused. */
const detector = new LeanTinyFaceDetector();
const recognizer = new LeanFaceRecognitionNet();
let ready: Promise<void> | undefined;

/** Loads the WebAssembly backend and the three nets once per thread, from files inside the npm packages. */
export function loadModels(): Promise<void> {
  ready ??= (async () => {
    // A directory path (not a URL) makes the backend read the .wasm with fs: no network, no fetch.
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
    // One thread per pool slot: parallelism comes from the pool, not from the backend.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    // setBackend answers false (and tfjs goes on with its plain-JS backend, about 20× slower) when the
    // backend fails to start, as its multithreaded build does in Node: then this thread is not ready.
    if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend of tfjs did not start');
    await tf.ready();
    const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    await detector.loadFromDisk(models);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
    await recognizer.loadFromDisk(models);
  })();
  return ready;
}

/**
 * Measures the faces of one photo. With `preparedPath`, the photo is decoded once as the trainer
 * gets it (src/images/prepare.ts), that JPEG written to `preparedPath`, and the same pixels,
 * scaled down, analyzed: the training upload stores what the inspection decoded.
 */
export async function analyzePhoto(file: string, opts: AnalyzeOptions, preparedPath?: string): Promise<PhotoAnalysis> {
  await loadModels();
  const image = await decode(file, opts, preparedPath);
  const { width, height } = image;
  const detections = await detectFaces(image, opts.minScore);
  const found = detections
    .map((detection) => ({ detection, box: clampBox(detection.box, width, height, detection.score) }))
    .filter(({ box }) => box.width > 0 && box.height > 0)
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const faces = found.map(({ box }) => box);
  const largest = found[0];
  if (largest === undefined) return { width, height, faces };
  const main = largest.box;
  const measured = await measureFace(image, main);
  // Only the largest face is described: a photo with several faces is refused anyway.
  const descriptor = await describeFace(image, largest.detection);
  return { width, height, faces, face: { share: (main.width * main.height) / (width * height), ...measured, descriptor } };
}

/** The decoded photo: packed RGB, 3 bytes a pixel. */
interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * The photo decoded for analysis: upright, at most maxSidePx a side. With `preparedPath`, decoded
 * as the trainer gets it, written there as its JPEG, and those pixels scaled down; else decoded
 * straight to the analysis size (shrink-on-load).
 */
async function decode(file: string, opts: AnalyzeOptions, preparedPath?: string): Promise<Rgb> {
  const input = sharp(file, { limitInputPixels: opts.maxPixels, failOn: 'error' });
  const toAnalysisSize = (image: Sharp) => image.resize(opts.maxSidePx, opts.maxSidePx, { fit: 'inside', withoutEnlargement: true });
  if (!preparedPath) return rgb(toAnalysisSize(input.rotate()));
  const prepared = await rgb(trainingPixels(input));
  await fromRgb(prepared).jpeg({ quality: TRAINING_JPEG_QUALITY }).toFile(preparedPath);
  return rgb(toAnalysisSize(fromRgb(prepared)));
}

/** A pipeline's output as packed sRGB, 3 bytes a pixel. */
async function rgb(image: Sharp): Promise<Rgb> {
  const { data, info } = await image.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** A pipeline that starts from decoded pixels. */
const fromRgb = (image: Rgb) => sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });

/** Detections at each input size in turn until one finds a face, in the decoded photo's coordinates. */
async function detectFaces(image: Rgb, minScore: number): Promise<faceapi.FaceDetection[]> {
  for (const inputSize of DETECTOR_INPUTS) {
    const scaled = await fromRgb(image)
      .resize(inputSize, inputSize, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const input = tf.tensor3d(scaled.data, [scaled.info.height, scaled.info.width, 3], 'int32');
    try {
      const detections = await detector.locateFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minScore }));
      if (detections.length > 0) return detections.map((d) => d.forSize(image.width, image.height));
    } finally {
      input.dispose();
    }
  }
  return [];
}

/** Landmarks, alignment and the descriptor of one detected face, as face-api's own task chain does them. */
async function describeFace(image: Rgb, detection: faceapi.FaceDetection): Promise<number[]> {
  const crop = await cropTensor(image, detection.box);
  let landmarks: faceapi.FaceLandmarks68;
  try {
    landmarks = (await faceapi.nets.faceLandmark68Net.detectLandmarks(crop as never)) as faceapi.FaceLandmarks68;
  } finally {
    crop.dispose();
  }
  const withLandmarks = faceapi.extendWithFaceLandmarks(faceapi.extendWithFaceDetection({}, detection), landmarks);
  const aligned = await cropTensor(image, withLandmarks.landmarks.align(null, { useDlibAlignment: true }));
  try {
    const descriptor = (await recognizer.computeFaceDescriptor(aligned as never)) as Float32Array;
    return Array.from(descriptor, (v) => Math.round(v * 1e6) / 1e6);
  } finally {
    aligned.dispose();
  }
}

/**
 * The pixels of a box (clipped and floored as face-api's extractFaceTensors does), cut by sharp
 * from the decoded photo: only the face, never the whole photo, goes into the WebAssembly heap.
 */
async function cropTensor(image: Rgb, box: faceapi.Box): Promise<tf.Tensor3D> {
  const { x, y, width, height } = box.clipAtImageBorders(image.width, image.height);
  if (width <= 0 || height <= 0) throw new Error('the face lies outside the photo');
  const crop = await fromRgb(image)
    .extract({ left: x, top: y, width, height })
    .raw()
    .toBuffer();
  return tf.tensor3d(crop, [height, width, 3], 'int32');
}

/** Sharpness and exposure of the face: the inner 80% of its box, so hair and background weigh little. */
async function measureFace(image: Rgb, box: { x: number; y: number; width: number; height: number }): Promise<{ sharpness: number; luma: number; clipped: number }> {
  const { width, height } = image;
  const inset = { left: box.x + box.width * 0.1, top: box.y + box.height * 0.1, width: box.width * 0.8, height: box.height * 0.8 };
  const region = {
    left: Math.max(0, Math.floor(inset.left)),
    top: Math.max(0, Math.floor(inset.top)),
    width: Math.max(1, Math.min(width - Math.floor(inset.left), Math.round(inset.width))),
    height: Math.max(1, Math.min(height - Math.floor(inset.top), Math.round(inset.height))),
  };
  const grey = await fromRgb(image)
    .extract(region)
    .greyscale()
    .resize(SHARPNESS_SIDE, SHARPNESS_SIDE, { fit: 'fill' })
    .raw()
    .toBuffer();
  let sum = 0;
  let clipped = 0;
  for (const v of grey) {
    sum += v;
    if (v >= 250) clipped++;
  }
  return { sharpness: laplacianVariance(stretch(grey), SHARPNESS_SIDE, SHARPNESS_SIDE), luma: sum / grey.length, clipped: clipped / grey.length };
}

/** Linear stretch of the 1st–99th percentile to 0–255 (a copy). */
function stretch(grey: Uint8Array): Uint8Array {
  const histogram = new Uint32Array(256);
  for (const v of grey) histogram[v]!++;
  const cut = Math.floor(grey.length * 0.01);
  let lo = 0;
  for (let seen = 0; lo < 255 && seen + histogram[lo]! <= cut; lo++) seen += histogram[lo]!;
  let hi = 255;
  for (let seen = 0; hi > lo && seen + histogram[hi]! <= cut; hi--) seen += histogram[hi]!;
  const scale = 255 / Math.max(1, hi - lo);
  return grey.map((v) => Math.max(0, Math.min(255, Math.round((v - lo) * scale))));
}

/** Variance of the 4-neighbour Laplacian over the interior pixels: low when edges are soft (blur). */
export function laplacianVariance(grey: Uint8Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const lap = grey[i - 1]! + grey[i + 1]! + grey[i - width]! + grey[i + width]! - 4 * grey[i]!;
      sum += lap;
      sumSq += lap * lap;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

function clampBox(box: faceapi.Box, width: number, height: number, score: number) {
  const x = Math.max(0, Math.round(box.x));
  const y = Math.max(0, Math.round(box.y));
  return {
    x,
    y,
    width: Math.max(0, Math.min(width, Math.round(box.x + box.width)) - x),
    height: Math.max(0, Math.min(height, Math.round(box.y + box.height)) - y),
    score: Math.round(score * 1000) / 1000,
  };
}
