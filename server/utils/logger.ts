import pino, { type Logger } from 'pino';

export type { Logger };

/** Headers that carry secrets; pino removes them from every log line. */
const REDACTED_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-twenty-webhook-signature"]', 'res.headers["set-cookie"]'];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
