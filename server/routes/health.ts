import { Router, type RequestHandler } from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { PageCache } from 'ssr-page-cache';
import { bearerProblem } from '../utils/bearer-token';
import type { WebhookStats } from './cache-invalidation';

export interface HealthOptions {
  cache: PageCache;
  webhooks: WebhookStats;
  /** METRICS_TOKEN: unset, /metrics is open (it changes nothing). */
  metricsToken?: string;
  /** With a Twenty source: the field mapping in use and the client's rate-limit bucket. */
  twenty?: () => object;
}

let processRegistry: Registry | undefined;

/** Node's process metrics (CPU, memory, event loop lag, GC): one set per process, however many apps. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * GET /health: 200 while pages are served, with the cache's own health and the webhook counts;
 * `degraded` when Redis is down or the circuit breaker keeps it off the request path (pages
 * render through). GET /metrics: the cache's registry and the process's, as Prometheus text.
 */
export function createHealthRouter({ cache, webhooks, metricsToken, twenty }: HealthOptions): Router {
  const router = Router();
  const metricsGuard: RequestHandler = (req, res, next) => {
    if (!metricsToken) return next();
    const problem = bearerProblem(req.headers.authorization, metricsToken);
    if (!problem) return next();
    res.set('WWW-Authenticate', problem.challenge).status(401).json({ error: problem.error });
  };
  router.get('/metrics', metricsGuard, async (_req, res) => {
    const [own, process] = await Promise.all([cache.registry.metrics(), processMetrics().metrics()]);
    res.set('Cache-Control', 'no-store').type(cache.registry.contentType).send(`${own}\n${process}`);
  });
  router.get('/health', async (_req, res) => {
    const { status, redis, alerts, ...counters } = await cache.health();
    res.set('Cache-Control', 'no-store').json({
      status,
      timestamp: new Date().toISOString(),
      redis,
      cache: { ...counters, ...webhooks },
      alerts,
      ...(twenty ? { twenty: twenty() } : {}),
    });
  });
  return router;
}
