import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { analyzePhoto, loadModels } from '../../src/images/faces/analyze';
import { LeanTinyFaceDetector } from '../../src/images/faces/detector';
import { blurryPhoto, darkPhoto, groupPhoto, noFacePhoto, samePersonSet, type FacePhoto } from '../fixtures/faces';

/**
 * The face inspection's own forward pass of face-api's tiny face detector (src/images/faces/detector.ts)
 * against face-api's, on the same weights and inputs, in this process on the WebAssembly backend;
 * and the analysis of a photo leaving no tensor behind in the thread that runs it.
 */
const MODELS = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const ANALYZE = { maxSidePx: 640, minScore: 0.3, maxPixels: 50_000_000 };
let lean: LeanTinyFaceDetector;
let dir: string;

beforeAll(async () => {
  await loadModels();
  lean = new LeanTinyFaceDetector();
  await lean.loadFromDisk(MODELS);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(MODELS);
  dir = await mkdtemp(path.join(tmpdir(), 'face-detector-'));
}, 60_000);
afterAll(async () => {
  lean?.dispose();
  faceapi.nets.tinyFaceDetector.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The photo scaled to fit `side` px, as analyze.ts hands it to the detector. */
async function input(photo: FacePhoto, side: number): Promise<tf.Tensor3D> {
  const { data, info } = await sharp(photo.buffer).resize(side, side, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return tf.tensor3d(data, [info.height, info.width, 3], 'int32');
}

describe('when the lean detector and face-api’s own run on the same photo', () => {
  it.each([
    ['one face at 320 px', () => samePersonSet('a', 1).then((s) => s[0]!), 320],
    ['a group photo at 320 px', () => groupPhoto(), 320],
    ['a blurry face at 224 px', () => blurryPhoto(), 224],
    ['a dark face at 416 px', () => darkPhoto(), 416],
  ])('then with %s the net outputs agree to float rounding and the same faces come out with the same scores', async (_what, make, inputSize) => {
    const image = await input(await make(), inputSize);
    const netInput = await faceapi.toNetInput(image as never);
    const ours = lean.forwardInput(netInput, inputSize) as unknown as tf.Tensor;
    const theirs = faceapi.nets.tinyFaceDetector.forwardInput(netInput, inputSize) as unknown as tf.Tensor;
    const scale = tf.max(tf.abs(theirs)).dataSync()[0]!;
    const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!;
    // Box and score logits reach about 40; float32 rounding of the fused ops moves them by about 3e-5.
    expect(scale).toBeGreaterThan(1);
    expect(diff).toBeLessThan(1e-3);
    tf.dispose([ours, theirs]);

    const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: 0.3 });
    const a = await lean.locateFaces(image as never, options);
    const b = await faceapi.nets.tinyFaceDetector.locateFaces(image as never, options);
    image.dispose();
    expect(a.length).toBeGreaterThan(0);
    expect(a.map((d) => d.score)).toEqual(b.map((d) => expect.closeTo(d.score, 4)));
    a.forEach((d, i) => {
      for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - b[i]!.box[k])).toBeLessThan(0.5);
    });
  }, 60_000);
});

describe('when photos are analyzed one after another', () => {
  it('then every tensor made for a photo is freed, whether it shows one face, several, none, or needs every detector size', async () => {
    const photos = [...(await samePersonSet('a', 2)), await groupPhoto(), await noFacePhoto(), await darkPhoto()];
    const files = await Promise.all(photos.map(async (p) => {
      const file = path.join(dir, p.filename);
      await writeFile(file, p.buffer);
      return file;
    }));
    await analyzePhoto(files[0]!, ANALYZE);
    const before = tf.memory().numTensors;
    const analyses = [];
    for (const file of files) analyses.push(await analyzePhoto(file, ANALYZE));
    expect(analyses.map((a) => a.faces.length)).toEqual([1, 1, 5, 0, 1]);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});
