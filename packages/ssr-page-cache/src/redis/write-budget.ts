import type { Logger } from '../logger';
import { masters, type RedisClient } from './connection';

export interface RedisMemory {
  usedBytes: number;
  /** 0 when Redis has no maxmemory. */
  maxBytes: number;
  /** maxmemory_policy (`noeviction`, `allkeys-lru`, ...); undefined where INFO does not say. */
  policy?: string;
}

export interface WriteBudgetOptions {
  redis: RedisClient;
  logger: Logger;
  /** False while the breaker is open: the INFO is not sent. */
  isUsable?(): boolean;
  /** Stop writing while used_memory is at or above this fraction of maxmemory, on a Redis that does not evict. */
  maxFraction: number;
  intervalMs: number;
  /** Told when writes pause (Redis above the budget) and resume. */
  onChange?(paused: boolean): void;
}

export function parseInfoMemory(info: string): RedisMemory | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
    return match ? Number(match[1]) : undefined;
  };
  const usedBytes = field('used_memory');
  const maxBytes = field('maxmemory');
  const policy = /^maxmemory_policy:([\w-]+)\r?$/m.exec(info)?.[1];
  return usedBytes === undefined || maxBytes === undefined ? undefined : { usedBytes, maxBytes, policy };
}

/**
 * Only a Redis that does not evict refuses writes when full; one that evicts sits near maxmemory
 * by design, and every page is written with a TTL, so `volatile-*` can evict it too. A policy
 * INFO does not name is taken for Redis's default, noeviction.
 */
function refusesWritesWhenFull(memory: RedisMemory): boolean {
  return memory.policy === undefined || memory.policy === 'noeviction';
}

/** The reading with the highest share of its maxmemory (or the most used, where none has a limit). */
function fullest(readings: readonly (RedisMemory | undefined)[]): RedisMemory | undefined {
  const share = ({ usedBytes, maxBytes }: RedisMemory) => (maxBytes > 0 ? usedBytes / maxBytes : 0);
  let best: RedisMemory | undefined;
  for (const reading of readings) {
    if (!reading) continue;
    if (!best || share(reading) > share(best) || (share(reading) === share(best) && reading.usedBytes > best.usedBytes)) best = reading;
  }
  return best;
}

/**
 * Keeps the cache from pushing a shared Redis run with noeviction (as many applications run theirs) into OOM: reads
 * `INFO memory` every interval and refuses writes while the cache would eat the last of it. A
 * Redis that evicts makes room for writes instead, so there the budget never pauses them.
 */
export class WriteBudget {
  private memory: RedisMemory | undefined;
  private over = false;
  private skippedSinceLog = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onReady = () => void this.refresh();

  constructor(private readonly options: WriteBudgetOptions) {
    this.timer = setInterval(() => void this.refresh(), options.intervalMs);
    this.timer.unref();
    // Know the budget as soon as a connection is up, not one interval later.
    options.redis.on('ready', this.onReady);
    void this.refresh();
  }

  get lastMemory(): RedisMemory | undefined {
    return this.memory;
  }

  get isOverBudget(): boolean {
    return this.over;
  }

  /** False while a noeviction Redis is above the budget; every refusal is counted and logged once per interval. */
  allowsWrite(): boolean {
    if (!this.over) return true;
    this.skippedSinceLog += 1;
    return false;
  }

  async refresh(): Promise<void> {
    const { redis, logger, maxFraction, isUsable } = this.options;
    if (redis.status !== 'ready' || !(isUsable?.() ?? true)) return;
    let readings: (RedisMemory | undefined)[];
    try {
      // A cluster is as full as its fullest master (a page's slot decides where it goes).
      readings = await Promise.all(masters(redis).map(async (node) => parseInfoMemory(await node.info('memory'))));
    } catch {
      return;
    }
    this.memory = fullest(readings);
    const wasOver = this.over;
    // On a cluster, the fullest master that refuses writes when full decides.
    const over = fullest(readings.filter((reading) => reading !== undefined && refusesWritesWhenFull(reading)));
    this.over = over !== undefined && over.maxBytes > 0 && over.usedBytes >= over.maxBytes * maxFraction;
    if (this.over) {
      logger.warn(
        { usedBytes: over?.usedBytes, maxBytes: over?.maxBytes, policy: over?.policy, maxFraction, skippedWrites: this.skippedSinceLog },
        'cache: redis memory above the write budget, not storing pages',
      );
    } else if (wasOver) {
      logger.info(
        { usedBytes: this.memory?.usedBytes, maxBytes: this.memory?.maxBytes, policy: this.memory?.policy },
        'cache: redis memory back under the write budget',
      );
    }
    this.skippedSinceLog = 0;
    if (this.over !== wasOver) this.options.onChange?.(this.over);
  }

  stop(): void {
    clearInterval(this.timer);
    this.options.redis.off('ready', this.onReady);
  }
}
