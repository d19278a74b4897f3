import { z } from 'zod';

/** What a model version does; decides its input schema and how outputs are produced. */
export type ModelKind =
  | 'flux-text-to-image'
  | 'sdxl-text-to-image'
  | 'image-to-image'
  | 'text-to-audio'
  | 'audio-enhancement'
  | 'lora-trainer';

/** File inputs: URLs Replicate can fetch (http/https, or data: URIs as the client may inline files). */
const fileUrl = () => z.url({ protocol: /^(https?|data)$/ });
const seed = () => z.int().optional();
const numOutputs = () => z.int().min(1).max(4).default(1);

const ASPECT_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'] as const;

const fluxInput = z.object({
  prompt: z.string(),
  num_outputs: numOutputs(),
  seed: seed(),
  output_format: z.enum(['webp', 'jpg', 'png']).default('webp'),
  aspect_ratio: z.enum(ASPECT_RATIOS).default('1:1'),
  /** Not in the real flux-schnell schema: explicit sizes override aspect_ratio. */
  width: z.int().min(256).max(1440).optional(),
  height: z.int().min(256).max(1440).optional(),
});

const sdxlInput = z.object({
  prompt: z.string().default('An astronaut riding a rainbow unicorn'),
  negative_prompt: z.string().optional(),
  width: z.int().min(128).max(2048).default(1024),
  height: z.int().min(128).max(2048).default(1024),
  num_outputs: numOutputs(),
  num_inference_steps: z.int().min(1).max(500).default(25),
  guidance_scale: z.number().min(1).max(50).default(7.5),
  seed: seed(),
});

const imageToImageInput = z.object({
  image: fileUrl(),
  prompt: z.string(),
  prompt_strength: z.number().min(0).max(1).default(0.8),
  num_outputs: numOutputs(),
  seed: seed(),
});

const musicgenInput = z.object({
  prompt: z.string(),
  duration: z.int().min(1).max(30).default(4),
  /** Only WAV is produced locally (the real model also offers mp3). */
  output_format: z.enum(['wav']).default('wav'),
  seed: seed(),
});

/** The real model calls the file `input_audio`; `audio` is accepted as an alias. */
const audioEnhancementInput = z
  .object({
    input_audio: fileUrl().optional(),
    audio: fileUrl().optional(),
    denoise_flag: z.boolean().default(false),
  })
  .refine((i) => i.input_audio ?? i.audio, { message: 'input_audio is required', path: ['input_audio'] });

export const trainingInput = z.object({
  input_images: fileUrl(),
  trigger_word: z.string().default('TOK'),
  steps: z.int().min(3).max(6000).optional(),
});

export const INPUT_SCHEMAS = {
  'flux-text-to-image': fluxInput,
  'sdxl-text-to-image': sdxlInput,
  'image-to-image': imageToImageInput,
  'text-to-audio': musicgenInput,
  'audio-enhancement': audioEnhancementInput,
  'lora-trainer': trainingInput,
} as const satisfies Record<ModelKind, z.ZodType>;

/** Per-job test overrides accepted in any model's input (never validation errors unless mistyped). */
export const overridesInput = z.object({
  fake_latency_ms: z.number().min(0).optional(),
  fake_error: z.string().min(1).optional(),
});

/** The version's input schema as JSON Schema, for `openapi_schema.components.schemas.Input`. */
export function inputJsonSchema(kind: ModelKind): object {
  return z.toJSONSchema(INPUT_SCHEMAS[kind], { io: 'input' });
}
