/**
 * The API as the local stack runs it (`npm start`, `npm run start:cluster`, the bench): the
 * production entry, src/server.ts, after installing the local stack's development hooks
 * (./local-dev-hooks.ts: the local provider's input knobs and the console's test checkout). The
 * production image runs src/server.ts itself, with no hooks.
 */
import { installLocalDevHooks } from './local-dev-hooks';

installLocalDevHooks();
// Imported after the hooks are in place: the server starts as it is loaded.
void import('../../src/server');
