import { gunzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import { errorHandler } from '../../src/http/errors';

function respond(err: unknown, headersSent = false) {
  const sent: { status?: number; body?: unknown; headers: Record<string, string>; passedOn?: unknown } = { headers: {} };
  const res = {
    headersSent,
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
  errorHandler(err, { log: { error() {}, warn() {} } } as unknown as Request, res, (passed?: unknown) => {
    sent.passedOn = passed;
  });
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

  it('when the answer already started (a stream, a download), then nothing more is written and the error goes to Express, which ends the response', () => {
    const err = new Error('the S3 stream broke');
    const sent = respond(err, true);
    expect(sent).toEqual({ headers: {}, passedOn: err });
  });

  it('when the router cannot percent-decode a path parameter, then 400 invalid_path', () => {
    let err: unknown;
    try {
      decodeURIComponent('%ED%A0%80');
    } catch (e) {
      err = Object.assign(e as Error, { status: 400, statusCode: 400 });
    }
    expect(respond(err).status).toBe(400);
    expect(respond(err).body).toMatchObject({ error: { code: 'invalid_path' } });
  });

  it('when a body does not decode with its Content-Encoding, then 400 invalid_json, not 500', () => {
    let zlibError: unknown;
    try {
      gunzipSync(Buffer.from('{"not":"gzip"}'));
    } catch (e) {
      zlibError = e;
    }
    // body-parser passes it on as createError(400, err)
    const sent = respond(Object.assign(zlibError as Error, { status: 400, statusCode: 400, expose: true }));
    expect({ status: sent.status, code: (sent.body as { error: { code: string } }).error.code }).toEqual({ status: 400, code: 'invalid_json' });
  });
});
