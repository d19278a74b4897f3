import { storedApiKey } from './api';

/**
 * Ids the console remembers for the signed-in account because the API cannot list them: the plan
 * payments made in this browser (only GET /payments/{id}; the training page offers them) and the
 * batches started here (only GET /batches/{id}; the batches page links the recent ones).
 *
 * Nothing of the API key is written to localStorage, where it would outlive the tab and be read by
 * anyone at the computer. The lists are filed under a SHA-256 prefix of the key instead: it tells
 * one account's lists from another's, survives closing the browser (a plan paid for today is still
 * offered for training tomorrow) and gives nothing of the key away. crypto.subtle exists only in a
 * secure context (https, localhost); a console served over plain http elsewhere keeps the lists in
 * sessionStorage, next to the key itself, for this tab only.
 */
export type RememberedKind = 'payments' | 'batches';

const MAX_IDS = 50;
const PREFIX = 'imagegen.console';

// Earlier versions filed these lists in localStorage under `imagegen.<kind>.<last 12 characters of
// the API key>`. Every such entry is removed; the ones of the key this tab is signed in with are
// carried over to the new place first (at the first read or write), so its remembered ids stay.
const LEGACY = /^imagegen\.(payments|batches)\.(.*)$/;
const carriedOver = new Map<RememberedKind, string[]>();
{
  const key = storedApiKey();
  for (const name of Object.keys(localStorage)) {
    const m = LEGACY.exec(name);
    if (!m) continue;
    if (key && m[2] === key.slice(-12)) carriedOver.set(m[1] as RememberedKind, parseIds(localStorage.getItem(name)));
    localStorage.removeItem(name);
  }
}

export async function rememberedIds(kind: RememberedKind): Promise<string[]> {
  const place = await placeFor(kind);
  if (!place) return [];
  const ids = parseIds(place.storage.getItem(place.name));
  const old = carriedOver.get(kind);
  if (!old) return ids;
  carriedOver.delete(kind);
  const merged = [...new Set([...ids, ...old])].slice(0, MAX_IDS);
  place.storage.setItem(place.name, JSON.stringify(merged));
  return merged;
}

/** Puts the id first in the list (the newest first, at most MAX_IDS). */
export async function rememberId(kind: RememberedKind, id: string): Promise<void> {
  const place = await placeFor(kind);
  if (!place) return;
  const ids = await rememberedIds(kind);
  place.storage.setItem(place.name, JSON.stringify([id, ...ids.filter((i) => i !== id)].slice(0, MAX_IDS)));
}

async function placeFor(kind: RememberedKind): Promise<{ storage: Storage; name: string } | undefined> {
  const key = storedApiKey();
  if (!key) return undefined;
  // Undefined outside a secure context, whatever the types say.
  const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined;
  // sessionStorage holds the key itself, so a plain checksum of it may name the lists there (one tab
  // signed in with another key must not see the previous key's lists).
  if (!subtle) return { storage: sessionStorage, name: `${PREFIX}.${kind}.tab-${fnv1a(key)}` };
  const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(`${PREFIX}.ids\n${key}`)));
  const id = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
  return { storage: localStorage, name: `${PREFIX}.${kind}.${id}` };
}

function parseIds(text: string | null): string[] {
  try {
    const ids: unknown = JSON.parse(text ?? '[]');
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** FNV-1a, 32 bits: a checksum, not a hash to hide anything with (used only for sessionStorage). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}
