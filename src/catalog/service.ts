import type { Db } from '../db/client';
import type { CatalogModel, PriceUnit } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { inputContract, offeredFields, type ModelContract } from './contract';

/** The models generic jobs may run (seeded by migration), in display order. */
export async function listModels(db: Db): Promise<CatalogModel[]> {
  return db.catalogModel.findMany({ where: { active: true }, orderBy: [{ sortOrder: 'asc' }, { name: 'asc' }] });
}

/**
 * How long a process reuses the active models it read. Catalog rows change only by migration,
 * so a model (de)activated or repriced reaches every API process within this time.
 */
const CATALOG_CACHE_MS = 10_000;
const catalogCache = new WeakMap<Db, { until: number; models: Promise<CatalogModel[]> }>();

/**
 * listModels, read at most once per CATALOG_CACHE_MS for each client: every accepted job looks
 * its model up, and that should cost no query. A failed read is not kept.
 */
function cachedModels(db: Db): Promise<CatalogModel[]> {
  const hit = catalogCache.get(db);
  if (hit && hit.until > Date.now()) return hit.models;
  const models = listModels(db);
  catalogCache.set(db, { until: Date.now() + CATALOG_CACHE_MS, models });
  models.catch(() => {
    if (catalogCache.get(db)?.models === models) catalogCache.delete(db);
  });
  return models;
}

/** An active catalog model (from the cache above), or 422 `unknown_model` listing the names that are. */
export async function getCatalogModel(db: Db, name: string): Promise<CatalogModel> {
  const models = await cachedModels(db);
  const model = models.find((m) => m.name === name);
  if (model) return model;
  const valid = models.map((m) => m.name);
  throw new AppError(422, ErrorCode.unknownModel, `Model "${name}" is not offered; use one of: ${valid.join(', ')} (GET /api/v1/models)`, {
    model: name,
    valid_models: valid,
  });
}

const contractOf = new WeakMap<object, ModelContract>();

/**
 * A catalog model's input contract and protected input (JSON columns, seeded by migration),
 * parsed once per model object: the cached catalog hands every request the same objects.
 */
export function modelContract(model: Pick<CatalogModel, 'inputContract' | 'protectedInput'>): ModelContract {
  let contract = contractOf.get(model);
  if (!contract) {
    contract = { input: inputContract.parse(model.inputContract), protectedInput: model.protectedInput as Record<string, unknown> };
    contractOf.set(model, contract);
  }
  return contract;
}

/**
 * How a price grows with the input: one step of the price for each started `step` of the
 * product of `fields` (e.g. width × height per 1048576 pixels, or duration per 10 seconds).
 * A field is a parameter of the model's contract, which has a bounded range and a default, or
 * FILE_DURATION (the input file's duration, read at upload and bounded by the model's
 * `fileMaxSeconds`), so the amount is known before the run.
 */
export interface PriceScale {
  fields: string[];
  step: number;
  unit: string;
}

/** The scale field that stands for the input file's duration in seconds. */
export const FILE_DURATION = 'input_file.duration';

export interface Price {
  priceUnit: PriceUnit;
  priceCredits: number;
  /** A PriceScale (the JSON column); absent or null: the price does not depend on the input (a job's stored price is already scaled). */
  priceScale?: unknown;
}

/** What a price may scale with beyond the parameters: the input file as its upload row measured it. */
export interface PricedFile {
  durationMs: number | null;
}

/**
 * The one price function. What a run costs: the price per run, or per output, times the
 * steps of the input the price scales with. Submitting reserves `creditsFor(model, requested
 * outputs, validated input, input file)`; a job stores `unitCredits` (its price for one run or
 * output, already scaled), so settling commits `creditsFor(job, stored outputs)` without them.
 */
export function creditsFor(price: Price, outputs: number, input: Record<string, unknown> = {}, file: PricedFile | null = null): number {
  return unitCredits(price, input, file) * (price.priceUnit === 'output' ? outputs : 1);
}

/** The price of one run or one output for this validated input and input file. */
export function unitCredits(price: Price, input: Record<string, unknown>, file: PricedFile | null = null): number {
  const scale = price.priceScale as PriceScale | null | undefined;
  if (!scale) return price.priceCredits;
  const amount = Object.values(priceQuantities(price, input, file) ?? {}).reduce((product, value) => product * value, 1);
  if (!Number.isFinite(amount)) {
    throw new Error(`The price scales with ${scale.fields.join(', ')}, which the input lacks; the contract must give them defaults, and a file's duration must be checked first`);
  }
  return price.priceCredits * Math.max(1, Math.ceil(amount / scale.step));
}

/** The values of the fields the price scales with (NaN for one the input lacks); null for a fixed price. */
export function priceQuantities(price: Price, input: Record<string, unknown>, file: PricedFile | null = null): Record<string, number> | null {
  const scale = price.priceScale as PriceScale | null | undefined;
  if (!scale) return null;
  const value = (field: string) => (field === FILE_DURATION ? (file?.durationMs == null ? NaN : file.durationMs / 1000) : Number(input[field]));
  return Object.fromEntries(scale.fields.map((field) => [field, value(field)]));
}

/**
 * Whether a job of this model needs its input file's duration: the model bounds it or its
 * price scales with it. Such a job refuses a file whose duration could not be read.
 */
export function needsFileDuration(model: Pick<CatalogModel, 'fileMaxSeconds' | 'priceScale'>): boolean {
  const scale = model.priceScale as PriceScale | null;
  return model.fileMaxSeconds !== null || (scale?.fields.includes(FILE_DURATION) ?? false);
}

const FIELD_LABELS: Record<string, string> = { [FILE_DURATION]: "the input file's duration" };

/** The price rule in words, for the catalog listing. */
export function priceSummary(price: Price): string {
  const scale = price.priceScale as PriceScale | null | undefined;
  const base = `${price.priceCredits} credit${price.priceCredits === 1 ? '' : 's'} per ${price.priceUnit}`;
  return scale ? `${base} for each started ${scale.step} ${scale.unit} of ${scale.fields.map((f) => FIELD_LABELS[f] ?? f).join(' × ')}` : base;
}

/** The public shape of a catalog model: what it takes (the production contract) and its price rule. */
export function modelView(model: CatalogModel) {
  const contract = modelContract(model);
  return {
    name: model.name,
    kind: model.kind,
    description: model.description,
    input: {
      prompt: model.takesPrompt,
      file: model.fileField ? { media_types: model.fileTypes, max_duration_seconds: model.fileMaxSeconds } : null,
      parameters: offeredFields(contract.input, false),
      fixed: contract.protectedInput,
    },
    price: {
      credits: model.priceCredits,
      per: model.priceUnit,
      scale: (model.priceScale as PriceScale | null) ?? null,
      summary: priceSummary(model),
    },
  };
}
