import type { Request, Response } from 'express';
import { errorHandler } from '../../src/http/errors';

function respond(err: unknown) {
  const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
  const res = {
    set(h: Record<string, string>) {
      Object.assign(sent.headers, h);
      return this;
    },
    status(s: number) {
      sent.status = s;
      return this;
    },
    json(b: unknown) {
      sent.body = b;
      return this;
    },
  } as unknown as Response;
  errorHandler(err, { log: { error() {}, warn() {} } } as unknown as Request, res, () => undefined);
  return sent;
}

describe('the final error responder', () => {
  it('when the database has no connection free for a transaction (P2028), then 503 with Retry-After', () => {
    expect(respond(Object.assign(new Error('Transaction API error: Unable to start a transaction in the given time.'), { code: 'P2028', clientVersion: '7.10.1' }))).toEqual({
      status: 503,
      headers: { 'Retry-After': '1' },
      body: { error: { code: 'service_unavailable', message: 'The service is busy; nothing was done. Try again shortly.', details: { component: 'postgres' } } },
    });
  });

  it('when an unknown error escapes, then 500 without internals', () => {
    const sent = respond(new Error('connection string postgres://secret@db'));
    expect(sent.status).toBe(500);
    expect(JSON.stringify(sent.body)).not.toContain('secret');
  });
});
