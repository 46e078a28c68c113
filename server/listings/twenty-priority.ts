import { AsyncLocalStorage } from 'node:async_hooks';
import type { TwentyPriority } from './twenty-client';

/**
 * Whose calls to Twenty these are, for the request being handled: a page a visitor or crawler
 * waits for (`page`, the default), or a re-render nobody waits for (a stale page's background
 * refresh, a cache warm-up request), which leaves the workspace's last tokens to pages.
 */
export const twentyPriority = new AsyncLocalStorage<TwentyPriority>();

export const currentTwentyPriority = (): TwentyPriority => twentyPriority.getStore() ?? 'page';
