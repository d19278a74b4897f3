import { builtinVersionId } from '../replicate-local/models';

/** The trainer as the local Replicate-compatible server knows it. */
export const LOCAL_TRAINER_MODEL = `ostris/flux-dev-lora-trainer:${builtinVersionId('ostris/flux-dev-lora-trainer')}`;

/** Signs the local Stripe events that `npm run stripe:complete` sends (Stripe's CLI does the same with its own secret). */
export const LOCAL_STRIPE_WEBHOOK_SECRET = 'whsec_local_development_only';
