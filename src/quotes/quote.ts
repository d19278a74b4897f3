import { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { creditsFor, priceQuantities, priceSummary, unitCredits, type PricedFile, type PriceScale } from '../catalog/service';
import type { CatalogModel } from '../generated/prisma/client';
import { checkModelInput } from '../jobs/model-input';
import { generateBody } from '../jobs/schemas';
import { createPaymentBody } from '../payments/schemas';
import { getActivePlan } from '../payments/plans';
import { planView } from '../payments/serialize';
import { createPromptBody } from '../prompts/schemas';
import { checkPromptRequest } from '../prompts/service';
import { versionIdParam } from '../training/schemas';
import { webhookColumns } from '../webhooks-out/request';

/**
 * What a job, a prompt or a training would cost, checked exactly like the request that
 * creates it (the same schemas and checks, so an invalid request gets the same 422), with
 * nothing written, reserved or started.
 */
export const quoteBody = z
  .discriminatedUnion('kind', [
    generateBody.extend({ kind: z.literal('job') }).meta({ description: 'The body of POST /api/v1/generate' }),
    createPromptBody
      .extend({ kind: z.literal('prompt'), version_id: versionIdParam.shape.version_id })
      .meta({ description: 'The body of POST /api/v1/prompts/create/{version_id}, with its version_id' }),
    createPaymentBody.pick({ plan_id: true }).extend({ kind: z.literal('training') }).meta({ description: 'The plan of POST /api/v1/payments/create' }),
  ])
  .meta({ id: 'QuoteRequest' });
export type QuoteBody = z.output<typeof quoteBody>;

export async function quote(deps: { db: Db; config: Config }, userId: string, body: QuoteBody) {
  switch (body.kind) {
    case 'job':
      return quoteJob(deps, userId, body);
    case 'prompt':
      return quotePrompt(deps, userId, body);
    case 'training':
      return quoteTraining(deps, body);
  }
}

/** `credits` is what accepting the job reserves, the most it can cost; a job that stores fewer outputs is charged for those only. */
async function quoteJob(deps: { db: Db; config: Config }, userId: string, { kind, ...body }: Extract<QuoteBody, { kind: 'job' }>) {
  const { model, upload, parameters } = await checkModelInput(deps.db, userId, body, { devKnobs: deps.config.env !== 'production' });
  webhookColumns(body, deps.config);
  return { ...jobQuote(model, body.num_outputs, parameters, upload), kind };
}

/** A job's price as POST /api/v1/quote answers it (also the `quote` of a 402 max_credits_exceeded). */
export function jobQuote(
  model: Pick<CatalogModel, 'name' | 'priceUnit' | 'priceCredits' | 'priceScale'>,
  numOutputs: number,
  parameters: Record<string, unknown>,
  file: PricedFile | null,
) {
  return {
    kind: 'job' as const,
    credits: creditsFor(model, numOutputs, parameters, file),
    unit: 'credits' as const,
    breakdown: {
      model: model.name,
      per: model.priceUnit,
      base_credits: model.priceCredits,
      scale: (model.priceScale as PriceScale | null) ?? null,
      quantities: priceQuantities(model, parameters, file),
      unit_credits: unitCredits(model, parameters, file),
      count: model.priceUnit === 'output' ? numOutputs : 1,
      summary: priceSummary(model),
    },
    parameters,
  };
}

/** A prompt costs one image of its model's quota per output. */
async function quotePrompt(deps: { db: Db; config: Config }, userId: string, { kind, version_id, ...body }: Extract<QuoteBody, { kind: 'prompt' }>) {
  const { version } = await checkPromptRequest(deps, { userId, versionId: version_id, body });
  webhookColumns(body, deps.config);
  return { kind, version_id, images: body.num_outputs, images_left: version.imagesTotal - version.imagesUsed - version.imagesReserved };
}

async function quoteTraining(deps: { db: Db }, { kind, plan_id }: Extract<QuoteBody, { kind: 'training' }>) {
  const plan = await getActivePlan(deps.db, plan_id);
  return { kind, price_cents: plan.priceCents, currency: plan.currency, plan: planView(plan) };
}
