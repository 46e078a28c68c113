import { randomUUID } from 'node:crypto';
import { CACHE_KEY_NAMESPACE } from '../key';
import type { Logger } from '../logger';
import type { RedisClient } from '../redis/connection';

/** What one invalidation removed, in the cache's logical key space (no prefix). */
export interface InvalidationMessage {
  keys: string[];
  patterns: string[];
  /** Pages carrying these tags go too (an instance may hold some Redis no longer indexes). */
  tags?: string[];
  /** Its number in the invalidation record (absent when Redis refused to record it, or from an earlier release). */
  seq?: number;
  mode?: 'hard' | 'soft';
}

/** Every page the cache holds: what an invalidation too large to keep, or a record lost, becomes. */
export const EVERY_PAGE: Readonly<InvalidationMessage> = { keys: [], patterns: [`${CACHE_KEY_NAMESPACE}*`], tags: [] };

interface Envelope extends InvalidationMessage {
  origin: string;
}

export interface InvalidationBusOptions {
  /** Publishes on the cache's own connection. */
  publisher: RedisClient;
  /**
   * Runs the PUBLISH (the Redis tier's `call`: bounded by the command timeout, not sent while
   * the breaker is open); undefined when it was not sent or failed. Absent: sent directly.
   */
  guard?(command: () => Promise<number>): Promise<number | undefined>;
  /** Pub/sub needs a connection of its own; the bus owns and closes it. */
  subscriber: RedisClient;
  channel: string;
  logger: Logger;
  /** Another instance invalidated these keys. */
  onMessage(message: InvalidationMessage): void;
  /** Messages may have been missed (the subscription dropped or came back): drop everything held. */
  onGap(): void;
}

function parseEnvelope(raw: string): Envelope | undefined {
  try {
    const value = JSON.parse(raw) as Partial<Envelope>;
    if (typeof value.origin !== 'string' || !Array.isArray(value.keys) || !Array.isArray(value.patterns)) return undefined;
    return {
      origin: value.origin,
      keys: value.keys.filter((key): key is string => typeof key === 'string'),
      patterns: value.patterns.filter((pattern): pattern is string => typeof pattern === 'string'),
      tags: Array.isArray(value.tags) ? value.tags.filter((tag): tag is string => typeof tag === 'string') : [],
      ...(Number.isSafeInteger(value.seq) ? { seq: value.seq } : {}),
      ...(value.mode === 'hard' || value.mode === 'soft' ? { mode: value.mode } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Carries invalidations to every instance (its in-process tier, its copy of the invalidation
 * record, the host's data) over Redis pub/sub. Delivery is at most once: whenever the
 * subscription is not known to be whole, or a message's number shows one was missed, the
 * receiver reads the record again.
 */
export class InvalidationBus {
  readonly instanceId = randomUUID();
  private readonly options: InvalidationBusOptions;
  private subscribed = false;

  constructor(options: InvalidationBusOptions) {
    this.options = options;
    const { subscriber, channel, logger } = options;
    subscriber.on('message', (from: string, raw: string) => {
      if (from !== channel) return;
      const envelope = parseEnvelope(raw);
      if (!envelope || envelope.origin === this.instanceId) return;
      // Whatever a message holds, it never throws out of here (an exception would end the process).
      try {
        options.onMessage(envelope);
      } catch (error) {
        logger.error({ err: error, channel }, 'invalidation bus: a message could not be applied, in-process tier flushed');
        try {
          options.onGap();
        } catch {
          // nothing more to do
        }
      }
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).then(
        () => {
          this.subscribed = true;
          options.onGap();
        },
        (error: unknown) => logger.warn({ err: error, channel }, 'invalidation bus: subscribe failed'),
      );
    });
    subscriber.on('close', () => {
      if (!this.subscribed) return;
      this.subscribed = false;
      options.onGap();
      logger.warn({ channel }, 'invalidation bus: subscription lost, in-process tier flushed');
    });
    subscriber.on('error', () => undefined);
  }

  get isSubscribed(): boolean {
    return this.subscribed;
  }

  /** Tells the other instances; false when Redis did not take the message. */
  async publish(message: InvalidationMessage): Promise<boolean> {
    const { publisher, channel, logger, guard } = this.options;
    if (publisher.status !== 'ready') return false;
    const envelope: Envelope = { origin: this.instanceId, ...message };
    const send = () => publisher.publish(channel, JSON.stringify(envelope));
    try {
      return (await (guard ? guard(send) : send())) !== undefined;
    } catch (error) {
      logger.warn({ err: error, channel }, 'invalidation bus: publish failed');
      return false;
    }
  }

  async close(): Promise<void> {
    this.subscribed = false;
    this.options.subscriber.disconnect();
  }
}
