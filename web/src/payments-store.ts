import { storedApiKey } from './api';

/**
 * The plan payments made in this browser. The API has no list of payments (only GET
 * /payments/{id}), so the console remembers their ids to offer them for training; another
 * payment id can be pasted on the training page.
 */
const storageKey = () => `imagegen.payments.${(storedApiKey() ?? '').slice(-12)}`;

export function rememberedPayments(): string[] {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(storageKey()) ?? '[]');
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberPayment(id: string): void {
  localStorage.setItem(storageKey(), JSON.stringify([id, ...rememberedPayments().filter((p) => p !== id)].slice(0, 50)));
}
