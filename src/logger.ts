import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; `base` fields (service name) appear on every line. */
export function createLogger(opts: { level: string; name: string }): Logger {
  return pino({
    name: opts.name,
    level: opts.level,
    redact: { paths: ['req.headers.authorization', 'req.headers["stripe-signature"]', 'req.headers["webhook-signature"]'], remove: true },
  });
}
