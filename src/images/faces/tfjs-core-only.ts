import Module from 'node:module';
// face-api calls tensors' chained ops (x.as3D(), x.div()): the full package registers them, the core does not by itself.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

/**
 * Imported by the face-inspection thread (thread.ts) before face-api: face-api's Node build
 * requires the whole `@tensorflow/tfjs` (core plus layers, converter, data, and the CPU and WebGL
 * backends), of which the thread uses only the core ops, `tf.io` and the WebAssembly backend.
 * Loading the core alone keeps about 11 MB less in each thread (bench row B8: RSS growth 123 MB
 * instead of 134). Only that one request is redirected, and only in this thread: the threads of
 * test/images/face-inspection.test.ts run face-api on it.
 */
const modules = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
const resolve = modules._resolveFilename;
modules._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return resolve.call(this, request === '@tensorflow/tfjs' ? '@tensorflow/tfjs-core' : request, ...rest);
};
