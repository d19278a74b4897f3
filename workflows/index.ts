// The workflow bundle's entry: deterministic workflow code only.
export { generationJob } from './generation-job';
export { generatePrompt } from './generate-prompt';
export { reconcile } from './reconcile';
export { trainModel } from './train-model';
