/**
 * The renders clients may wait for, per instance: a token bucket holding at most `burst`
 * renders, refilled at `perSecond`. A flood of URLs nobody has cached (random paths, faceted
 * junk) then costs at most the budget in renders; the rest get a stored copy or a 503.
 */
export class RenderBudget {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one render from the budget; false when it is spent. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whole seconds until the next render is allowed (at least 1): the Retry-After of a refused one. */
  secondsUntilNext(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond));
  }
}

/** Background re-renders running at once: more wait their turn, first come first served. */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    /** Waiting turns beyond this are refused (the page is tried again on a later request). */
    private readonly maxWaiting = 10_000,
  ) {}

  get active(): number {
    return this.running;
  }

  /** Whether the next acquire waits. */
  get full(): boolean {
    return this.running >= this.limit;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with the release once a slot is free; undefined when too many already wait. */
  async acquire(): Promise<(() => void) | undefined> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    };
  }
}
