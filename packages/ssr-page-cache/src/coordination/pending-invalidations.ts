import { EVERY_PAGE, type InvalidationMessage } from './invalidation-bus';
import type { InvalidationJournal } from './invalidation-journal';

/** hard deletes; soft marks stale. */
type Mode = 'hard' | 'soft';

export interface PendingInvalidation {
  message: InvalidationMessage;
  mode: Mode;
  acceptedAt: number;
}

/** More than this many waiting: the queue collapses into one invalidation of every page (nothing is lost, the cache refills). */
export const MAX_PENDING = 10_000;

/** Every page under the cache's namespace, as a pattern of the Redis tier. */

/**
 * Invalidations accepted while Redis could not take them, in order. While any wait, this
 * instance reads no page from Redis (a page there may be one they remove); they are applied as
 * soon as Redis answers again. With a journal, each is on disk (fsync'd) before `add` returns,
 * and what a killed process left there waits again at start.
 */
export class PendingInvalidations {
  private queue: PendingInvalidation[] = [];

  constructor(private readonly journal?: InvalidationJournal) {
    for (const { message, mode, acceptedAt } of journal?.recovered ?? []) this.queue.push({ message, mode, acceptedAt });
    if (this.queue.length > MAX_PENDING) this.queue = [{ message: EVERY_PAGE, mode: 'hard', acceptedAt: this.queue[0]?.acceptedAt ?? Date.now() }];
  }

  get size(): number {
    return this.queue.length;
  }

  get oldestAcceptedAt(): number | undefined {
    return this.queue[0]?.acceptedAt;
  }

  add(message: InvalidationMessage, mode: Mode, acceptedAt = Date.now()): void {
    this.journal?.append({ message, mode, acceptedAt });
    if (this.queue.length >= MAX_PENDING) {
      this.queue = [{ message: EVERY_PAGE, mode: 'hard', acceptedAt: this.queue[0]?.acceptedAt ?? acceptedAt }];
      return;
    }
    this.queue.push({ message, mode, acceptedAt });
  }

  /**
   * Applies the waiting invalidations in order with `apply` (true once Redis took one); stops at
   * the first that fails, which waits for the next attempt. How many were applied.
   */
  async drain(apply: (item: PendingInvalidation) => Promise<boolean>): Promise<number> {
    let applied = 0;
    while (this.queue.length > 0) {
      const item = this.queue[0] as PendingInvalidation;
      if (!(await apply(item))) break;
      // Items added while this one ran stay behind it.
      if (this.queue[0] === item) this.queue.shift();
      applied += 1;
    }
    // Redis has every one of them: the journal's lines are done with.
    if (this.queue.length === 0 && applied > 0) {
      try {
        this.journal?.clear();
      } catch {
        // The lines stay and are applied again at the next start: repeating an invalidation is harmless.
      }
    }
    return applied;
  }

  /** What is still waiting, for a log line when the process stops with Redis unreachable. */
  describe(): InvalidationMessage[] {
    return this.queue.map((item) => item.message);
  }
}
