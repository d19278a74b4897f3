import { getCatalogModel, modelContract } from '../catalog/service';
import { checkParameters } from '../catalog/contract';
import type { Db } from '../db/client';
import type { CatalogModel, Upload } from '../generated/prisma/client';
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
 * models only), and `parameters` against the model's input contract (src/catalog/contract.ts).
 * Every problem at once: 422 `validation_failed` with one issue per field. Another user's
 * upload is reported exactly like a missing one. `devKnobs`: outside production, the local
 * provider's test knobs are accepted too.
 */
export async function checkModelInput(db: Db, userId: string, body: GenerateBody, opts: { devKnobs: boolean }): Promise<ModelInput> {
  const model = await getCatalogModel(db, body.model);
  const upload = body.input_file ? await db.upload.findFirst({ where: { id: body.input_file, userId } }) : null;
  const issues: { field: string; message: string }[] = [];
  const problem = (field: string, message: string) => issues.push({ field, message });

  if (model.takesPrompt && body.prompt === undefined) problem('prompt', 'this model needs a prompt');
  if (!model.takesPrompt && body.prompt !== undefined) problem('prompt', 'this model takes no prompt');

  if (model.fileField) {
    const types = model.fileTypes.join(', ');
    if (!body.input_file) problem('input_file', `this model needs an input file (${types}): upload it with POST /api/v1/uploads and pass its upload_id`);
    else if (!upload) problem('input_file', 'no upload with this id among yours');
    else if (!model.fileTypes.includes(upload.contentType)) problem('input_file', `this model takes ${types}; the upload is ${upload.contentType}`);
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
    throw AppError.validation(`Invalid request for model ${model.name}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
  }
  return { model, upload, parameters: checked.input };
}
