// The workflow bundle's entry: deterministic workflow code only.
export { deliverWebhooks, deliverWebhooksV2 } from './deliver-webhooks';
export { expireOutputs } from './expire-outputs';
export { generatePrompt, generatePromptV2 } from './generate-prompt';
export { generationJob, generationJobV2 } from './generation-job';
export { reconcile } from './reconcile';
export { redeliverWebhook } from './redeliver-webhook';
export { trainModel } from './train-model';
