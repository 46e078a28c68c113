import { createServer } from 'node:http';
import Redis from 'ioredis';
import { createBlogApp } from './app';

// npx tsx examples/blog/server.ts  (PORT, default 3003; REDIS_URL, default redis://127.0.0.1:6379)
const port = Number(process.env.PORT ?? 3003);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const { handler, cache } = createBlogApp({
  redis,
  keyPrefix: process.env.BLOG_KEY_PREFIX ?? 'blog:',
  token: process.env.CACHE_INVALIDATION_TOKEN,
});

const server = createServer(handler);
server.listen(port, () => console.log(`blog listening on http://localhost:${port}`));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeIdleConnections();
  await cache.close();
  await redis.quit();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
