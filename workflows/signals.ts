import { defineSignal } from '@temporalio/workflow';
import type { PredictionSnapshot } from '../src/provider/prediction';

/** Sent by the Replicate webhook handler with the prediction's new state. */
export const predictionUpdated = defineSignal<[PredictionSnapshot]>('predictionUpdated');
