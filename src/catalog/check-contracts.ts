import type Replicate from 'replicate';
import type { Db } from '../db/client';
import { TRAINED_MODEL_CONTRACT, TRAINED_MODEL_SIZE } from '../prompts/schemas';
import { checkContract, type ContractReport, type OpenApiSchema } from './contract-check';
import type { ModelContract } from './contract';
import { listModels, modelContract } from './service';

export interface ModelReport extends ContractReport {
  /** "owner/name" or "owner/name:version" as checked. */
  model: string;
}

/**
 * Checks every active catalog model's contract, and the trained-model contract, against the
 * input schema the provider publishes for that model (its latest version, or the pinned
 * one). `trainedVersion`: "owner/name:version" of a trained model to check the trained
 * contract against; without it that check is skipped (noted). `devOnly`: include the local
 * provider's extras (true when the provider is the local one).
 */
export async function checkAllContracts(deps: { db: Db; replicate: Replicate }, opts: { devOnly: boolean; trainedVersion?: string }): Promise<ModelReport[]> {
  const reports: ModelReport[] = [];
  for (const model of await listModels(deps.db)) {
    reports.push(await checkOne(deps.replicate, model.name, modelContract(model), opts.devOnly));
  }
  if (opts.trainedVersion) {
    // The prompt's top-level width and height are the trained model's input fields too.
    const trained: ModelContract = {
      input: { ...TRAINED_MODEL_CONTRACT.input, width: TRAINED_MODEL_SIZE, height: TRAINED_MODEL_SIZE },
      protectedInput: TRAINED_MODEL_CONTRACT.protectedInput,
    };
    reports.push(await checkOne(deps.replicate, opts.trainedVersion, trained, opts.devOnly));
  } else {
    reports.push({ model: 'trained models', problems: [], notes: ['no trained version given: the trained-model contract was not checked'] });
  }
  return reports;
}

async function checkOne(replicate: Replicate, ref: string, contract: ModelContract, devOnly: boolean): Promise<ModelReport> {
  const schema = await publishedSchema(replicate, ref);
  if (!schema) return { model: ref, problems: ['the provider publishes no input schema for this model'], notes: [] };
  return { model: ref, ...checkContract(contract, schema, { devOnly }) };
}

/** The `openapi_schema` of "owner/name" (its latest version) or "owner/name:version". */
async function publishedSchema(replicate: Replicate, ref: string): Promise<OpenApiSchema | null> {
  const [path = '', version] = ref.split(':');
  const [owner = '', name = ''] = path.split('/');
  if (version) return ((await replicate.models.versions.get(owner, name, version)).openapi_schema as OpenApiSchema | undefined) ?? null;
  const model = await replicate.models.get(owner, name);
  return (model.latest_version?.openapi_schema as OpenApiSchema | undefined) ?? null;
}
