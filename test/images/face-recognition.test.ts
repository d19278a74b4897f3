import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { loadModels } from '../../src/images/faces/analyze';
import { LeanFaceRecognitionNet } from '../../src/images/faces/recognition';
import { samePersonSet, someoneElse, type FacePhoto } from '../fixtures/faces';

/**
 * The face inspection's own forward pass of face-api's recognition net (src/images/faces/recognition.ts):
 * it keeps no packed copy of its 22 MB of filters in the WebAssembly heap, and its descriptors are
 * face-api's. The heap check runs first, on this file's own backend instance, before face-api's net
 * (which does keep them) has run here.
 */
const MODELS = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const MB = 1024 * 1024;
let lean: LeanFaceRecognitionNet;
let faces: tf.Tensor3D[];

/** Bytes of the WebAssembly backend's heap: it grows to its peak and never shrinks. */
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

async function pixels(photo: FacePhoto): Promise<tf.Tensor3D> {
  const { data, info } = await sharp(photo.buffer).resize(200, 200, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return tf.tensor3d(data, [info.height, info.width, 3], 'int32');
}

beforeAll(async () => {
  await loadModels();
  lean = new LeanFaceRecognitionNet();
  await lean.loadFromDisk(MODELS);
  faces = await Promise.all([...(await samePersonSet('a', 3)), await someoneElse('b')].map(pixels));
}, 60_000);
afterAll(() => {
  tf.dispose(faces);
  lean?.dispose();
  faceapi.nets.faceRecognitionNet.dispose();
});

describe('when the lean recognition net describes faces', () => {
  it('then the WebAssembly heap grows by a layer’s worth at most, not by a packed copy of every filter', async () => {
    const before = heapBytes();
    for (const face of faces) await lean.computeFaceDescriptor(face as never);
    // The heap grows in steps of about a fifth of its size: here by about 21 MB. face-api's own pass
    // grows it by about 74 MB at the same point (a packed copy, twice the filters' 22 MB, and the activations).
    expect((heapBytes() - before) / MB).toBeLessThan(32);
  }, 60_000);

  it('then its descriptors are face-api’s to float rounding, and the same person stays closer than someone else', async () => {
    await faceapi.nets.faceRecognitionNet.loadFromDisk(MODELS);
    const ours: Float32Array[] = [];
    for (const face of faces) {
      const a = (await lean.computeFaceDescriptor(face as never)) as Float32Array;
      const b = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(face as never)) as Float32Array;
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-4);
      ours.push(a);
    }
    const [a1, a2, a3, b] = ours as [Float32Array, Float32Array, Float32Array, Float32Array];
    expect(faceapi.euclideanDistance(a1, a2)).toBeLessThan(faceapi.euclideanDistance(a1, b));
    expect(faceapi.euclideanDistance(a1, a3)).toBeLessThan(faceapi.euclideanDistance(a1, b));
  }, 60_000);
});
