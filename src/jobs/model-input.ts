import { getCatalogModel, modelContract, needsFileDuration } from '../catalog/service';
import { checkParameters } from '../catalog/contract';
import type { Db } from '../db/client';
import type { CatalogModel, Job, Upload } from '../generated/prisma/client';
import { AppError } from '../errors';
import type { GenerateBody } from './schemas';

export interface ModelInput {
  model: CatalogModel;
  /** The caller's upload the model receives in its file field. */
  upload: Upload | null;
  /** The validated parameters the model runs with: the caller's, the contract's defaults, the protected fields. */
  parameters: Record<string, unknown>;
}

/**
 * Checks a generate request against what its catalog model takes: a prompt or none, an
 * input file of its media types or none, several outputs and an output format (image
 * models only), the input file's duration against the model's bound (a model bounded or
 * priced by it refuses a file whose duration could not be read), and `parameters` against the
 * model's input contract (src/catalog/contract.ts).
 * Every problem at once: 422 `validation_failed` with one issue per field (and, for the
 * duration, `details.input_file` with the upload's duration and the bound). Another user's
 * upload is reported exactly like a missing one. `devKnobs`: outside production, the
 * dev-only fields and the input fields a development launcher installed (src/dev-hooks.ts: the
 * local provider's test knobs) are accepted too.
 */
export async function checkModelInput(db: Db, userId: string, body: GenerateBody, opts: { devKnobs: boolean }): Promise<ModelInput> {
  const model = await getCatalogModel(db, body.model);
  const upload = body.input_file ? await db.upload.findFirst({ where: { id: body.input_file, userId } }) : null;
  const issues: { field: string; message: string }[] = [];
  const problem = (field: string, message: string) => issues.push({ field, message });
  let durationDetails: Record<string, unknown> | undefined;

  if (model.takesPrompt && body.prompt === undefined) problem('prompt', 'this model needs a prompt');
  if (!model.takesPrompt && body.prompt !== undefined) problem('prompt', 'this model takes no prompt');

  if (model.fileField) {
    const types = model.fileTypes.join(', ');
    if (!body.input_file) problem('input_file', `this model needs an input file (${types}): upload it with POST /api/v1/uploads and pass its upload_id`);
    else if (!upload) problem('input_file', 'no upload with this id among yours');
    else if (!model.fileTypes.includes(upload.contentType)) problem('input_file', `this model takes ${types}; the upload is ${upload.contentType}`);
    else if (needsFileDuration(model)) {
      const message = durationProblem(upload, model.fileMaxSeconds);
      if (message) {
        problem('input_file', message);
        durationDetails = { upload_id: upload.id, duration_seconds: upload.durationMs === null ? null : upload.durationMs / 1000, max_duration_seconds: model.fileMaxSeconds };
      }
    }
    if (model.fileField in body.parameters) problem('parameters', `pass the file as input_file, not as parameters.${model.fileField}`);
  } else if (body.input_file) {
    problem('input_file', 'this model takes no input file');
  }

  if (model.kind !== 'image') {
    if (body.num_outputs > 1) problem('num_outputs', `this ${model.kind} model makes one output per run`);
    if (body.output_format) problem('output_format', `applies to image models only; this model makes ${model.kind}`);
  }

  const checked = checkParameters(modelContract(model), body.parameters, { devKnobs: opts.devKnobs, skip: model.fileField ? [model.fileField] : [] });
  issues.push(...checked.issues);

  if (issues.length) {
    throw AppError.validation(`Invalid request for model ${model.name}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, {
      issues,
      ...(durationDetails ? { input_file: durationDetails } : {}),
    });
  }
  return { model, upload, parameters: checked.input };
}

/** Why the upload's duration does not do for a model that needs it (and bounds it by `maxSeconds`, if not null); null if it does. */
function durationProblem(upload: Pick<Upload, 'durationMs'>, maxSeconds: number | null): string | null {
  if (upload.durationMs === null) {
    return 'the duration of this recording could not be read from its headers, and this model is priced and bounded by it; upload it again as WAV, MP3, FLAC or Ogg (Vorbis, Opus)';
  }
  if (maxSeconds !== null && upload.durationMs > maxSeconds * 1000) {
    return `the recording is ${formatDuration(upload.durationMs)} long; this model takes at most ${formatDuration(maxSeconds * 1000)}`;
  }
  return null;
}

/** 605250 → "10:05.25 (605.25 s)". */
function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const [whole = '0', fraction] = ((ms - minutes * 60_000) / 1000).toFixed(3).replace(/\.?0+$/, '').split('.');
  return `${minutes}:${whole.padStart(2, '0')}${fraction ? `.${fraction}` : ''} (${ms / 1000} s)`;
}

/**
 * The exact input the model receives, less the input file (its presigned URL is made when
 * the job runs): the validated parameters (the caller's, the contract's defaults and the
 * protected fields, checkModelInput above), then our own fields. Image models (those with an
 * output format) also get num_outputs and output_format; other kinds make one output.
 */
export function providerInput(job: Pick<Job, 'prompt' | 'numOutputs' | 'seed' | 'outputFormat' | 'parameters'>): Record<string, unknown> {
  return {
    ...(job.parameters as Record<string, unknown>),
    ...(job.prompt === null ? {} : { prompt: job.prompt }),
    ...(job.outputFormat === null ? {} : { num_outputs: job.numOutputs, output_format: job.outputFormat }),
    ...(job.seed === null ? {} : { seed: job.seed }),
  };
}
