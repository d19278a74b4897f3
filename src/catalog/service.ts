import type { Db } from '../db/client';
import type { CatalogModel, PriceUnit } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';

/** The models generic jobs may run (seeded by migration), in display order. */
export async function listModels(db: Db): Promise<CatalogModel[]> {
  return db.catalogModel.findMany({ where: { active: true }, orderBy: [{ sortOrder: 'asc' }, { name: 'asc' }] });
}

/** An active catalog model, or 422 `unknown_model` listing the names that are. */
export async function getCatalogModel(db: Db, name: string): Promise<CatalogModel> {
  const models = await listModels(db);
  const model = models.find((m) => m.name === name);
  if (model) return model;
  const valid = models.map((m) => m.name);
  throw new AppError(422, ErrorCode.unknownModel, `Model "${name}" is not offered; use one of: ${valid.join(', ')} (GET /api/v1/models)`, {
    model: name,
    valid_models: valid,
  });
}

/** What a run costs: the price once, or once per output. */
export function creditsFor(price: { priceUnit: PriceUnit; priceCredits: number }, outputs: number): number {
  return price.priceUnit === 'output' ? price.priceCredits * outputs : price.priceCredits;
}

/** The public shape of a catalog model. */
export function modelView(model: CatalogModel) {
  return {
    name: model.name,
    kind: model.kind,
    description: model.description,
    input: {
      prompt: model.takesPrompt,
      file: model.fileField ? { media_types: model.fileTypes } : null,
    },
    price: { credits: model.priceCredits, per: model.priceUnit },
  };
}
