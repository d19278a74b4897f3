// The workflow bundle's entry: deterministic workflow code only.
export { generationJob } from './generation-job';
export { trainModel } from './train-model';
