import { randomBytes } from 'node:crypto';
import type { CacheEntry } from '../entry/cache-entry';
import type { RenderLock } from './render-lock';

/** The first request for a cold page renders it; the others wait for what it stores. */
export type FlightRole =
  | {
      role: 'leader';
      /** The page is rendered: followers in this process get it now, before it reaches Redis. */
      share(entry: CacheEntry): void;
      /** The page is stored (or will not be): the cross-instance lock is released. */
      done(entry: CacheEntry | undefined): void;
    }
  | { role: 'follower'; entry: CacheEntry | undefined };

export interface SingleFlightOptions {
  /** Absent: coalesce within this process only. */
  lock?: RenderLock;
  /** How long a follower waits for the leader before it renders itself. */
  waitMs: number;
  /** A leader that never reports is forgotten after this long (the Redis lock's TTL too). */
  flightTtlMs: number;
  pollMs?: number;
  /** Reads a page another instance may have stored: a fresh one only (the stale copy there is why it renders). */
  readEntry(key: string): Promise<CacheEntry | undefined>;
  /** False while Redis fails: a follower polling for another instance's page stops and renders. */
  canPoll?(): boolean;
  onWaitTimeout(): void;
}

interface Flight {
  promise: Promise<CacheEntry | undefined>;
  finish(entry: CacheEntry | undefined): void;
}

const TIMED_OUT = Symbol('timed out');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Single-flight renders: in this process through a map of flights, across instances through
 * a short Redis lock. Nobody waits longer than `waitMs` for someone else's render.
 */
export class SingleFlight {
  private readonly flights = new Map<string, Flight>();
  private readonly pollMs: number;

  constructor(private readonly options: SingleFlightOptions) {
    this.pollMs = options.pollMs ?? 25;
  }

  get inFlight(): number {
    return this.flights.size;
  }

  async join(key: string): Promise<FlightRole> {
    const { waitMs, lock } = this.options;
    const existing = this.flights.get(key);
    if (existing) {
      const entry = await within(existing.promise, waitMs);
      if (entry === TIMED_OUT) {
        this.options.onWaitTimeout();
        return { role: 'follower', entry: undefined };
      }
      return { role: 'follower', entry };
    }

    const flight = this.startFlight(key);
    const token = randomBytes(16).toString('hex');
    // The wait bound counts from here: acquiring and polling together never pass waitMs (plus the one read in flight).
    const deadline = Date.now() + waitMs;
    const answer = lock ? await lock.acquire(key, token) : 'granted';
    if (answer === 'held') {
      const entry = await this.pollForEntry(key, deadline);
      if (entry) {
        flight.finish(entry);
        return { role: 'follower', entry };
      }
      // Counted only when the bound passed: a poll that stopped because Redis fails is no wait timeout.
      if (Date.now() >= deadline) this.options.onWaitTimeout();
    }
    return {
      role: 'leader',
      share: (entry) => flight.finish(entry),
      done: (entry) => {
        flight.finish(entry);
        // Released only when a lock command went out (a lock never asked for holds nothing).
        if (answer === 'taken' && lock) void lock.release(key, token);
      },
    };
  }

  /** The cross-instance lock alone (for a background re-render): its release, or undefined when held elsewhere. */
  async tryLock(key: string): Promise<(() => void) | undefined> {
    const { lock } = this.options;
    if (!lock) return () => undefined;
    const token = randomBytes(16).toString('hex');
    const answer = await lock.acquire(key, token);
    if (answer === 'held') return undefined;
    return answer === 'taken' ? () => void lock.release(key, token) : () => undefined;
  }

  private startFlight(key: string): Flight {
    let resolve!: (entry: CacheEntry | undefined) => void;
    const promise = new Promise<CacheEntry | undefined>((settle) => {
      resolve = settle;
    });
    const flight: Flight = {
      promise,
      finish: (entry) => {
        clearTimeout(expiry);
        if (this.flights.get(key) === flight) this.flights.delete(key);
        resolve(entry);
      },
    };
    // A leader whose response never ends must not hold the page hostage.
    const expiry = setTimeout(() => flight.finish(undefined), this.options.flightTtlMs);
    expiry.unref();
    this.flights.set(key, flight);
    return flight;
  }

  /** Another instance holds the lock: look for its page until the wait bound. */
  private async pollForEntry(key: string, deadline: number): Promise<CacheEntry | undefined> {
    while (Date.now() < deadline && (this.options.canPoll?.() ?? true)) {
      await sleep(Math.min(this.pollMs, Math.max(1, deadline - Date.now())));
      const entry = await this.options.readEntry(key);
      if (entry) return entry;
    }
    return undefined;
  }
}
