/**
 * POST /api/v1/generate charges credits (402 insufficient_credits without them). Every bench
 * user gets plenty: through a credit-granting helper of test/helpers/factories.ts when there is
 * one (looked up by name at run time, so the bench compiles and runs before and after it
 * appears), else through the credit ledger's own topUp (src/credits/ledger.ts), as a paid
 * credit pack would. With neither, users get nothing and a 402 says so.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/client';
import * as factories from '../../test/helpers/factories';

const PLENTY = 1_000_000;
type Fn = (...args: unknown[]) => Promise<unknown>;

/** The name of the credit-granting factory, if there is one (`grantCredits`, `giveCredits`, ...). */
export function creditHelperName(): string | undefined {
  const exported = factories as unknown as Record<string, unknown>;
  return Object.keys(exported).find((k) => /credit/i.test(k) && /grant|give|add|fund|top/i.test(k) && typeof exported[k] === 'function');
}

function ledgerTopUp(): Fn | undefined {
  try {
    const ledger = require('../../src/credits/ledger') as Record<string, unknown>;
    return typeof ledger.topUp === 'function' ? (ledger.topUp as Fn) : undefined;
  } catch {
    return undefined;
  }
}

/** How users get credits in this run, for the report. */
export function creditSource(): string {
  const helper = creditHelperName();
  if (helper) return `test/helpers/factories.ts ${helper}`;
  return ledgerTopUp() ? 'src/credits/ledger.ts topUp (no factory helper yet)' : 'none';
}

export async function grantCreditsIfNeeded(db: Db, userId: string): Promise<void> {
  const name = creditHelperName();
  if (name) {
    const helper = (factories as unknown as Record<string, Fn>)[name]!;
    try {
      await helper(db, userId, PLENTY);
    } catch (err) {
      throw new Error(`test/helpers/factories.ts ${name}(db, userId, ${PLENTY}) failed; adapt tools/bench/credits.ts to its signature: ${(err as Error).message}`);
    }
    return;
  }
  const topUp = ledgerTopUp();
  if (topUp) await db.$transaction((tx) => topUp(tx, { userId, purchaseId: randomUUID(), credits: PLENTY }));
}
