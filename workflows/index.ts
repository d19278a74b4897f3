// The workflow bundle's entry: deterministic workflow code only.
export { deliverWebhooks } from './deliver-webhooks';
export { generationJob } from './generation-job';
export { generatePrompt } from './generate-prompt';
export { reconcile } from './reconcile';
export { trainModel } from './train-model';
