import * as tf from '@tensorflow/tfjs-core';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';

/**
 * face-api's face recognition net (the ResNet that makes a face's 128-number descriptor) with a
 * forward pass that keeps no packed weights: the same weights and layers, but each convolution runs
 * on a transient copy of its filters, freed with the layer.
 *
 * Why: the WebAssembly backend packs a convolution's filters for XNNPACK on first use and keeps the
 * packed operator, about twice the filters' size, until the filter tensor is disposed. For this
 * net's 22 MB of filters that is 44 MB more WebAssembly heap for the thread's lifetime, a heap that
 * never shrinks: with face-api's pass the inspection's heap peaked at 120 MB and the process's RSS
 * grew 170 MB over a 30-photo set (bench row B8, goal 150 MB); with this one, 69 MB and about 123 MB.
 * The price is CPU: packing again on every face costs about 40 ms a face here (the forward pass
 * itself takes about 30 ms).
 *
 * The copy does useful work: it is the filters times the scale layer's weights, so each layer is one
 * fused op (convolution, bias, ReLU) instead of face-api's five (convolution, bias add, scale
 * multiply, scale add, ReLU); the mean-colour step is a broadcast subtraction instead of a fill and
 * concat of a full-size image. The descriptors agree with face-api's to float rounding
 * (test/images/face-recognition.test.ts, which also checks the heap).
 */
type NetInput = Parameters<faceapi.FaceRecognitionNet['forwardInput']>[0];
type Conv = { conv: { filters: tf.Tensor4D; bias: tf.Tensor1D }; scale: { weights: tf.Tensor1D; biases: tf.Tensor1D } };
type Residual = { conv1: Conv; conv2: Conv };
type Params = Record<'conv32_down', Conv> &
  Record<`conv${32 | 64}_${1 | 2 | 3}` | `conv${128 | 256}_${1 | 2}` | `conv${64 | 128 | 256}_down` | 'conv256_down_out', Residual> & { fc: tf.Tensor2D };

/** face-api's mean face colour (RGB) for this net. */
const MEAN_RGB = [122.782, 117.001, 104.298];

export class LeanFaceRecognitionNet extends faceapi.FaceRecognitionNet {
  override forwardInput(input: NetInput): ReturnType<faceapi.FaceRecognitionNet['forwardInput']> {
    if (!this.params) throw new Error('FaceRecognitionNet - load model before inference');
    const params = this.params as unknown as Params;
    return tf.tidy(() => {
      const batch = tf.cast(input.toBatchTensor(150, true) as unknown as tf.Tensor4D, 'float32');
      let out = tf.div(tf.sub(batch, tf.tensor1d(MEAN_RGB)), 255) as tf.Tensor4D;
      // Same order as face-api's FaceRecognitionNet.forwardInput.
      out = convLayer(out, params.conv32_down, 2, true, 'valid');
      out = tf.maxPool(out, 3, 2, 'valid');
      out = residual(out, params.conv32_1);
      out = residual(out, params.conv32_2);
      out = residual(out, params.conv32_3);
      out = residualDown(out, params.conv64_down);
      out = residual(out, params.conv64_1);
      out = residual(out, params.conv64_2);
      out = residual(out, params.conv64_3);
      out = residualDown(out, params.conv128_down);
      out = residual(out, params.conv128_1);
      out = residual(out, params.conv128_2);
      out = residualDown(out, params.conv256_down);
      out = residual(out, params.conv256_1);
      out = residual(out, params.conv256_2);
      out = residualDown(out, params.conv256_down_out);
      return tf.matMul(tf.mean(out, [1, 2]) as tf.Tensor2D, params.fc);
    }) as unknown as ReturnType<faceapi.FaceRecognitionNet['forwardInput']>;
  }
}

/**
 * face-api's convLayer (convolution, bias, scale layer, optional ReLU) as one fused convolution: the
 * scale folded into a transient copy of the filters (freed right after, and with it the backend's
 * packed copy) and into the bias.
 */
function convLayer(x: tf.Tensor4D, p: Conv, strides: 1 | 2, relu: boolean, padding: 'valid' | 'same' = 'same'): tf.Tensor4D {
  const filters = tf.mul(p.conv.filters, p.scale.weights) as tf.Tensor4D;
  try {
    const bias = tf.add(tf.mul(p.conv.bias, p.scale.weights), p.scale.biases) as tf.Tensor1D;
    return tf.fused.conv2d({ x, filter: filters, strides, pad: padding, bias, activation: relu ? 'relu' : 'linear' });
  } finally {
    filters.dispose();
  }
}

/** face-api's residual block. */
function residual(x: tf.Tensor4D, p: Residual): tf.Tensor4D {
  const out = convLayer(convLayer(x, p.conv1, 1, true), p.conv2, 1, false);
  return tf.relu(tf.add(out, x));
}

/** face-api's down-sampling residual block: the shortcut average-pooled, padded with zero channels (and a zero row and column when the shapes differ). */
function residualDown(x: tf.Tensor4D, p: Residual): tf.Tensor4D {
  let out = convLayer(convLayer(x, p.conv1, 2, true, 'valid'), p.conv2, 1, false);
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
    const [n, h, w, c] = out.shape;
    out = tf.concat([out, tf.zeros([n, 1, w, c])], 1);
    out = tf.concat([out, tf.zeros([n, h + 1, 1, c])], 2);
  }
  if (pooled.shape[3] !== out.shape[3]) pooled = tf.concat([pooled, tf.zeros(pooled.shape)], 3);
  return tf.relu(tf.add(pooled, out));
}
