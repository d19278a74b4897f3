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
 * Every field named here has a bounded range and a default in the model's contract, so the
 * amount is known before the run.
 */
export interface PriceScale {
  fields: string[];
  step: number;
  unit: string;
}

export interface Price {
  priceUnit: PriceUnit;
  priceCredits: number;
  /** A PriceScale (the JSON column); absent or null: the price does not depend on the input (a job's stored price is already scaled). */
  priceScale?: unknown;
}

/**
 * The one price function. What a run costs: the price per run, or per output, times the
 * steps of the input the price scales with. Submitting reserves `creditsFor(model, requested
 * outputs, validated input)`; a job stores `unitCredits` (its price for one run or output,
 * already scaled), so settling commits `creditsFor(job, stored outputs)` without the input.
 */
export function creditsFor(price: Price, outputs: number, input: Record<string, unknown> = {}): number {
  return unitCredits(price, input) * (price.priceUnit === 'output' ? outputs : 1);
}

/** The price of one run or one output for this validated input. */
export function unitCredits(price: Price, input: Record<string, unknown>): number {
  const scale = price.priceScale as PriceScale | null | undefined;
  if (!scale) return price.priceCredits;
  const amount = scale.fields.reduce((product, field) => product * Number(input[field]), 1);
  if (!Number.isFinite(amount)) throw new Error(`The price scales with ${scale.fields.join(', ')}, which the input lacks; the contract must give them defaults`);
  return price.priceCredits * Math.max(1, Math.ceil(amount / scale.step));
}

/** The price rule in words, for the catalog listing. */
export function priceSummary(price: Price): string {
  const scale = price.priceScale as PriceScale | null | undefined;
  const base = `${price.priceCredits} credit${price.priceCredits === 1 ? '' : 's'} per ${price.priceUnit}`;
  return scale ? `${base} for each started ${scale.step} ${scale.unit} of ${scale.fields.join(' × ')}` : base;
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
      file: model.fileField ? { media_types: model.fileTypes } : null,
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
