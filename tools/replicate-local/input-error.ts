/** A model-side failure caused by the job's input (bad file, unreachable URL...): the job fails with this message. */
export class InputError extends Error {
  override name = 'InputError';
}
