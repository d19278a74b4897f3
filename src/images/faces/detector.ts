import * as tf from '@tensorflow/tfjs-core';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';

/**
 * face-api's tiny face detector with a leaner forward pass: the same weights, layers and pre- and
 * post-processing, but each layer is one fused op (convolution, bias and leaky ReLU together) and
 * each layer's input is freed as soon as the next exists.
 *
 * Why: face-api runs the whole net inside one `tf.tidy`, and writes each layer as a convolution,
 * a bias add and a leaky ReLU of four ops (mul, sub, relu, add), so every intermediate of every
 * layer stays allocated until the net is done. At 320 px the first layer alone is 318×318×16
 * floats (6.5 MB) five times over: about 37 MB of live tensors at the peak, and the WebAssembly
 * heap, which never shrinks, grows to hold them (144 MB after 30 photos; 120 MB with this pass).
 * Its input step also builds a full-size mean-colour image with fill and concat, slow on the
 * WebAssembly backend; here the mean is subtracted by broadcasting (10–30 ms less a photo).
 * The result is the same up to float rounding (test/images/face-detector.test.ts compares the two).
 *
 * Tried and not kept: running the first two layers in horizontal bands kept the heap at 100 MB,
 * but the process's RSS grew about 10 MB more elsewhere and each photo took about 50 ms more CPU.
 */
type MobilenetParams = Parameters<faceapi.TinyFaceDetector['runMobilenet']>[1];
type NetInput = Parameters<faceapi.TinyFaceDetector['forwardInput']>[0];
type FaceApiTensor4D = ReturnType<faceapi.TinyFaceDetector['runMobilenet']>;
/** face-api's parameter objects hold tensors of the same tfjs instance, typed by its own bundled declarations. */
type Conv = { filters: tf.Tensor4D; bias: tf.Tensor1D };
type SeparableConv = { depthwise_filter: tf.Tensor4D; pointwise_filter: tf.Tensor4D; bias: tf.Tensor1D };

/** face-api's leaky ReLU slope (it writes it as the float32 nearest to 0.1). */
const LEAKY_ALPHA = 0.10000000149011612;

export class LeanTinyFaceDetector extends faceapi.TinyFaceDetector {
  /** face-api's forwardInput (pad to a square, scale, subtract the mean colour, / 255) without keeping its intermediates. */
  override forwardInput(input: NetInput, inputSize: number): FaceApiTensor4D {
    const { params } = this;
    if (!params) throw new Error('TinyYolov2 - load model before inference');
    const { meanRgb } = this.config;
    const x = tf.tidy(() => {
      const batch = tf.cast(input.toBatchTensor(inputSize, false) as unknown as tf.Tensor4D, 'float32');
      return tf.div(meanRgb ? tf.sub(batch, tf.tensor1d(meanRgb)) : batch, 255) as tf.Tensor4D;
    });
    try {
      return this.runMobilenet(x as unknown as FaceApiTensor4D, params as MobilenetParams);
    } finally {
      x.dispose();
    }
  }

  override runMobilenet(input: FaceApiTensor4D, faceApiParams: MobilenetParams): FaceApiTensor4D {
    if (!this.config.isFirstLayerConv2d) throw new Error('LeanTinyFaceDetector expects the tiny face detector (a plain first convolution)');
    const params = faceApiParams as unknown as Record<'conv0' | 'conv8', Conv> & Record<`conv${1 | 2 | 3 | 4 | 5 | 6 | 7}`, SeparableConv | undefined>;
    const x = input as unknown as tf.Tensor4D;
    // Same order as face-api's runMobilenet: conv0, then conv1..5 each followed by a 2×2 max pool
    // (stride 2, the last stride 1), conv6 and conv7 when the model has them, and conv8 without activation.
    let out = step(x, (t) => tf.fused.conv2d({ x: t, filter: params.conv0.filters, strides: 1, pad: 'valid', bias: params.conv0.bias, activation: 'leakyrelu', leakyreluAlpha: LEAKY_ALPHA }), false);
    out = step(out, (t) => tf.maxPool(t, [2, 2], [2, 2], 'same'));
    for (const name of ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'] as const) {
      out = step(out, (t) => separable(t, params[name]!));
      out = step(out, (t) => tf.maxPool(t, [2, 2], name === 'conv5' ? [1, 1] : [2, 2], 'same'));
    }
    for (const name of ['conv6', 'conv7'] as const) {
      const p = params[name];
      if (p) out = step(out, (t) => separable(t, p));
    }
    out = step(out, (t) => tf.fused.conv2d({ x: t, filter: params.conv8.filters, strides: 1, pad: 'valid', bias: params.conv8.bias }));
    return out as unknown as FaceApiTensor4D;
  }
}

/** f(t), then t is freed (unless it is the caller's input). */
function step(t: tf.Tensor4D, f: (t: tf.Tensor4D) => tf.Tensor4D, dispose = true): tf.Tensor4D {
  const out = f(t);
  if (dispose) t.dispose();
  return out;
}

/**
 * face-api's depthwiseSeparableConv: pad by 1, a 3×3 depthwise and a 1×1 pointwise convolution
 * ('valid'), bias, leaky ReLU. Padding 'same' on a 3×3, stride 1 convolution is that padding.
 */
function separable(x: tf.Tensor4D, p: SeparableConv): tf.Tensor4D {
  return tf.tidy(() =>
    tf.fused.conv2d({
      x: tf.depthwiseConv2d(x, p.depthwise_filter, 1, 'same'),
      filter: p.pointwise_filter,
      strides: 1,
      pad: 'valid',
      bias: p.bias,
      activation: 'leakyrelu',
      leakyreluAlpha: LEAKY_ALPHA,
    }),
  );
}
