/**
 * Completes (or expires, or fails) a payment locally, without Stripe keys: builds a realistic
 * Checkout Session event for the payment and POSTs it, signed like Stripe signs webhooks, to
 * the API's Stripe webhook — what `stripe trigger` + `stripe listen` do against real Stripe.
 *
 *   npm run stripe:complete -- <payment_id> [options]
 *   npm run stripe:complete -- --credits <purchase_id> [options]     a credit-pack purchase
 *
 *   --credits          the id is a credit purchase (POST /api/v1/credits/checkout), not a payment
 *   --api URL          API base URL (default $API_BASE_URL or http://127.0.0.1:$PORT, port 3000)
 *   --secret whsec_... webhook signing secret (default $STRIPE_WEBHOOK_SECRET, else the local one
 *                      `npm start` uses)
 *   --event TYPE       checkout.session.completed (default) | checkout.session.async_payment_succeeded |
 *                      checkout.session.async_payment_failed | checkout.session.expired | any other type
 *   --status S         payment_status: paid | unpaid | no_payment_required (default: paid for completed
 *                      and async_payment_succeeded, unpaid otherwise)
 *   --api-key KEY      the payment owner's API key (default $API_KEY): reads the payment first, to send
 *                      its plan's (or pack's) price and currency
 *   --amount CENTS     amount_total (default: the plan or pack price, with --api-key)
 *   --currency CUR     default: the plan's or pack's, else usd
 *   --email EMAIL      customer_details.email (default customer@example.com)
 */
import { parseArgs } from 'node:util';
import { CREDIT_PACK_KIND } from '../src/credits/checkout-sessions';
import { LOCAL_STRIPE_WEBHOOK_SECRET } from './dev/local-defaults';
import { checkoutSessionEvent, signStripeEvent, type CheckoutSessionEvent } from './dev/stripe-test-events';

export interface CompleteResult {
  event: CheckoutSessionEvent;
  status: number;
  body: unknown;
}

const USAGE = 'usage: npm run stripe:complete -- [--credits] <payment_id | purchase_id> [--api URL] [--secret whsec_...] [--event TYPE] [--status paid|unpaid] [--api-key KEY] [--amount CENTS] [--currency CUR] [--email EMAIL]';

export async function main(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<CompleteResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => console.log(line));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      secret: { type: 'string' },
      event: { type: 'string', default: 'checkout.session.completed' },
      status: { type: 'string' },
      'api-key': { type: 'string' },
      amount: { type: 'string' },
      currency: { type: 'string' },
      email: { type: 'string' },
      credits: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    log(USAGE);
    throw new UsageError('');
  }
  const paymentId = positionals[0];
  if (!paymentId || positionals.length > 1) throw new UsageError(USAGE);
  const what = values.credits ? 'purchase' : 'payment';
  if (!/^[0-9a-f-]{36}$/i.test(paymentId)) throw new UsageError(`"${paymentId}" is not a ${what} id (UUID)\n${USAGE}`);
  if (values.status && !['paid', 'unpaid', 'no_payment_required'].includes(values.status)) throw new UsageError(`--status must be paid, unpaid or no_payment_required\n${USAGE}`);
  if (values.amount !== undefined && !/^\d+$/.test(values.amount)) throw new UsageError(`--amount must be a whole number of cents\n${USAGE}`);

  const api = (values.api ?? env.API_BASE_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/$/, '');
  const secret = values.secret ?? env.STRIPE_WEBHOOK_SECRET ?? LOCAL_STRIPE_WEBHOOK_SECRET;
  const apiKey = values['api-key'] ?? env.API_KEY;

  let known: { amountCents?: number; currency?: string } = {};
  if (apiKey) {
    const path = values.credits ? `/api/v1/credits/purchases/${paymentId}` : `/api/v1/payments/${paymentId}`;
    const res = await request(`${api}${path}`, { headers: { Authorization: `Bearer ${apiKey}` } });
    const body = (await res.json().catch(() => null)) as Record<string, any> | null;
    if (!res.ok || !body) throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(body)}`);
    const product = body.plan ?? body.pack;
    known = { amountCents: body.amount_cents ?? product?.price_cents, currency: body.currency ?? product?.currency };
    log(`${what} ${paymentId}: status ${body.status}, ${values.credits ? 'pack' : 'plan'} ${product?.id}, ${known.amountCents} ${known.currency}`);
  }

  const event = checkoutSessionEvent({
    paymentId,
    type: values.event,
    paymentStatus: values.status as 'paid' | 'unpaid' | undefined,
    amountCents: values.amount !== undefined ? Number(values.amount) : (known.amountCents ?? null),
    currency: values.currency ?? known.currency ?? 'usd',
    ...(values.email ? { email: values.email } : {}),
    ...(values.credits ? { metadata: { kind: CREDIT_PACK_KIND, purchase_id: paymentId } } : {}),
  });
  if (event.data.object.amount_total === null) log('note: amount unknown (pass --amount CENTS or --api-key KEY); amount_total is sent as null');

  const { payload, header } = signStripeEvent(event, secret);
  const url = `${api}/api/v1/webhooks/stripe`;
  log(`POST ${url}\nStripe-Signature: ${header}\n${payload}`);
  const res = await request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header }, body: payload });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  log(`→ ${res.status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  return { event, status: res.status, body };
}

export class UsageError extends Error {}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`could not reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}); is the API running (npm start), or pass --api URL`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (r) => process.exit(r.status >= 200 && r.status < 300 ? 0 : 1),
    (err: Error) => {
      if (err instanceof UsageError) {
        if (err.message) console.error(err.message);
        process.exit(err.message ? 2 : 0);
      }
      console.error(`stripe:complete failed: ${err.message}`);
      process.exit(1);
    },
  );
}
