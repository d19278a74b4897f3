import type { z } from 'zod';
import { enhanceAudio, generateWav, WAV_CONTENT_TYPE } from './audio-media';
import { detectAudioType } from './magic-bytes';
import { downloadInput } from './fetch-input';
import { generateImage, IMAGE_CONTENT_TYPES, sizeForAspectRatio, transformImage, type ImageFormat } from './image-media';
import { INPUT_SCHEMAS, type ModelKind } from './input-schemas';
import { InputError } from './input-error';
import { parseOrThrow } from './validation';

export interface OutputFile {
  ext: string;
  contentType: string;
  data: Buffer;
}

/** What a running model may use: a log sink, the job's cancellation signal and its planned seed. */
export interface RunEnv {
  log(line: string): void;
  signal: AbortSignal;
  /** Used when the input has no seed; fixed at creation, so a rerun after a restart gives the same outputs. */
  seed: number;
}

export type RunOutputs = (env: RunEnv) => Promise<OutputFile[]>;

/** Validates raw input (throws a 422 problem) and returns the deferred run that produces the outputs. */
export type ModelRunner = (rawInput: unknown) => RunOutputs;

function runner<S extends z.ZodType>(schema: S, run: (input: z.output<S>, env: RunEnv) => Promise<OutputFile[]>): ModelRunner {
  return (rawInput) => {
    const input = parseOrThrow(schema, rawInput, 'input');
    return (env) => run(input, env);
  };
}

/** Uses the given seed or the planned one, and logs it like Replicate's image models do. */
function seedFor(input: { seed?: number | undefined }, env: RunEnv): number {
  const seed = input.seed ?? env.seed;
  env.log(`Using seed: ${seed}`);
  return seed;
}

function images(format: ImageFormat, datas: Buffer[]): OutputFile[] {
  return datas.map((data) => ({ ext: format, contentType: IMAGE_CONTENT_TYPES[format], data }));
}

function indexes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

async function textToImage(
  input: { prompt: string; num_outputs: number; seed?: number | undefined },
  size: { width: number; height: number },
  format: ImageFormat,
  env: RunEnv,
): Promise<OutputFile[]> {
  const seed = seedFor(input, env);
  const datas = await Promise.all(
    indexes(input.num_outputs).map((index) => generateImage({ prompt: input.prompt, seed, index, format, ...size })),
  );
  env.log(`Generated ${datas.length} image(s) of ${size.width}x${size.height}`);
  return images(format, datas);
}

const flux = runner(INPUT_SCHEMAS['flux-text-to-image'], (input, env) => {
  const byRatio = sizeForAspectRatio(input.aspect_ratio);
  const size = { width: input.width ?? byRatio.width, height: input.height ?? byRatio.height };
  return textToImage(input, size, input.output_format, env);
});

const sdxl = runner(INPUT_SCHEMAS['sdxl-text-to-image'], (input, env) =>
  textToImage(input, { width: input.width, height: input.height }, 'png', env),
);

const imageToImage = runner(INPUT_SCHEMAS['image-to-image'], async (input, env) => {
  const source = await downloadInput(input.image, 'image', env.signal);
  const seed = seedFor(input, env);
  const datas = await Promise.all(
    indexes(input.num_outputs).map((index) => transformImage(source, { prompt: input.prompt, seed, index, format: 'png' })),
  );
  return images('png', datas);
});

const musicgen = runner(INPUT_SCHEMAS['text-to-audio'], async (input, env) => {
  const seed = seedFor(input, env);
  const data = generateWav(`${input.prompt}\u0000${seed}`, input.duration);
  env.log(`Generated ${input.duration}s of audio`);
  return [{ ext: 'wav', contentType: WAV_CONTENT_TYPE, data }];
});

const audioEnhancement = runner(INPUT_SCHEMAS['audio-enhancement'], async (input, env) => {
  const field = input.input_audio ? 'input_audio' : 'audio';
  const source = await downloadInput(input.input_audio ?? input.audio ?? '', field, env.signal);
  const type = detectAudioType(source);
  if (!type) throw new InputError(`Input ${field} is not a supported audio file (expected WAV, MP3, FLAC or OGG)`);
  env.log(`Enhancing ${type.toUpperCase()} audio (${source.length} bytes)`);
  return [{ ext: 'wav', contentType: WAV_CONTENT_TYPE, data: enhanceAudio(source) }];
});

/** Prediction runners by model kind; trainer versions have none (they run through the trainings API). */
export const MODEL_RUNNERS: Partial<Record<ModelKind, ModelRunner>> = {
  'flux-text-to-image': flux,
  'sdxl-text-to-image': sdxl,
  'image-to-image': imageToImage,
  'text-to-audio': musicgen,
  'audio-enhancement': audioEnhancement,
};
