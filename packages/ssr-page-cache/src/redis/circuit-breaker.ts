import type { Logger } from '../logger';

/** closed: Redis is asked; open: it is not (cool-down); half-open: one probe is out. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** This many failures in a row open the breaker. */
  failureThreshold: number;
  /** How long an open breaker keeps Redis off the request path before it probes. */
  cooldownMs: number;
  /** One cheap command (PING); the breaker closes when it answers in time. */
  probe(): Promise<unknown>;
  logger: Logger;
  /** Named in the log lines. */
  target: string;
  /** Told of every change of state (the cache's event stream). */
  onChange?(state: BreakerState): void;
}

export interface BreakerSnapshot {
  state: BreakerState;
  /** Times it opened since start. */
  opens: number;
  /** Commands not sent because it was open (each one a render-through or a skipped write). */
  rejected: number;
  consecutiveFailures: number;
  /** Epoch ms of the last change of state, or null before the first. */
  changedAt: number | null;
}

/**
 * Stops asking a Redis that keeps failing or timing out: after `failureThreshold` failures in
 * a row it opens for `cooldownMs` (every command is refused at once), then probes with one
 * PING: an answer closes it, a failure opens it for another cool-down. Logs each change once.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private opens = 0;
  private rejected = 0;
  private changedAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: CircuitBreakerOptions) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a command may be sent now; a refusal is counted. */
  allows(): boolean {
    if (this.current === 'closed') return true;
    this.rejected += 1;
    return false;
  }

  /** Closed and the last command answered: worth a second command on the same request's path. */
  get isClear(): boolean {
    return this.current === 'closed' && this.failures === 0;
  }

  recordSuccess(): void {
    this.failures = 0;
  }

  /** A timeout or a lost connection; a reply error (OOM, WRONGTYPE) means Redis answered and is not one. */
  recordFailure(error: unknown): void {
    this.failures += 1;
    if (this.current === 'closed' && this.failures >= this.options.failureThreshold) this.open(error);
  }

  /** The connection came back (ioredis `ready`): Redis answers, so close without waiting for the probe. */
  reset(): void {
    this.failures = 0;
    if (this.current !== 'closed') this.close('reconnected');
  }

  snapshot(): BreakerSnapshot {
    return { state: this.current, opens: this.opens, rejected: this.rejected, consecutiveFailures: this.failures, changedAt: this.changedAt };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private open(error: unknown): void {
    const reopening = this.current === 'half-open';
    this.setState('open');
    if (!reopening) {
      this.opens += 1;
      this.options.logger.warn(
        { redis: this.options.target, failures: this.failures, cooldownMs: this.options.cooldownMs, err: error },
        'redis circuit breaker open: Redis is not asked, pages render through',
      );
    }
    this.scheduleProbe();
  }

  private close(reason: string): void {
    clearTimeout(this.timer);
    this.setState('closed');
    this.failures = 0;
    this.options.logger.info({ redis: this.options.target, reason }, 'redis circuit breaker closed: Redis tier back on the request path');
  }

  private scheduleProbe(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.runProbe(), this.options.cooldownMs);
    this.timer.unref();
  }

  private async runProbe(): Promise<void> {
    if (this.current !== 'open' || this.stopped) return;
    this.setState('half-open');
    try {
      await this.options.probe();
      if (this.state === 'half-open') this.close('probe answered');
    } catch (error) {
      if (this.state === 'half-open') this.open(error);
    }
  }

  private setState(state: BreakerState): void {
    if (state === this.current) return;
    this.current = state;
    this.changedAt = Date.now();
    this.options.onChange?.(state);
  }
}
