/** A log call: structured fields first (`key`, `cache`, `durationMs`, ...), then a short message. */
export type LogFn = (fields: object, message?: string) => void;

/** What the cache logs through: a pino logger fits as is; absent, the cache is silent. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** Lets the hit path skip building a log line nobody reads. */
  isLevelEnabled?(level: string): boolean;
}

const ignore: LogFn = () => undefined;

export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore, isLevelEnabled: () => false };

export function isLevelEnabled(logger: Logger, level: string): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;
}
