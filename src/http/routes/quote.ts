import { Router } from 'express';
import { z } from 'zod';
import { quote, quoteBody } from '../../quotes/quote';
import { Plan } from '../openapi/responses';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

const int = z.int();

export const Quote = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('job'),
      credits: int.meta({ description: 'What accepting the job reserves: the most it can cost (a job that stores fewer outputs is charged for those only)' }),
      unit: z.literal('credits'),
      breakdown: z.object({
        model: z.string(),
        per: z.enum(['run', 'output']),
        base_credits: int.meta({ description: 'The model price before scaling' }),
        scale: z
          .object({ fields: z.array(z.string()), step: z.number(), unit: z.string() })
          .nullable()
          .meta({ description: 'What the price scales with (null: a fixed price)' }),
        quantities: z
          .record(z.string(), z.number())
          .nullable()
          .meta({
            description: "The value of each of the scale's fields this price was computed from (e.g. `{\"input_file.duration\": 30}`, the input file's seconds); null: a fixed price",
          }),
        unit_credits: int.meta({ description: 'The price of one run or one output for this input' }),
        count: int.meta({ description: 'Runs or outputs paid: credits = unit_credits × count' }),
        summary: z.string(),
      }),
      parameters: z.record(z.string(), z.unknown()).meta({ description: "The validated parameters the job would run with: yours, the contract's defaults, the fields the service sets" }),
    }),
    z.object({
      kind: z.literal('prompt'),
      version_id: z.uuid(),
      images: int.meta({ description: "Images of the model's quota the prompt reserves (one per output)" }),
      images_left: int.meta({ description: 'Images the model has left now' }),
    }),
    z.object({ kind: z.literal('training'), price_cents: int, currency: z.string(), plan: Plan }),
  ])
  .meta({ id: 'Quote' });

/** POST /quote: what a job, prompt or training would cost; nothing is written, reserved or started. */
export function createQuoteRouter(deps: Pick<AppDeps, 'db' | 'config'>): Router {
  const router = Router();
  router.post('/quote', async (req, res) => {
    const body = parse(quoteBody, req.body);
    const answer: z.infer<typeof Quote> = await quote(deps, currentUser(req).id, body);
    res.json(answer);
  });
  return router;
}
