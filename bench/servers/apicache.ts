import apicache from 'apicache-plus';
import express from 'express';
import Redis from 'ioredis';
import { announce, benchPageHtml, benchPort } from './page';

// The most used Express cache middleware in Redis mode, caching the same page for bots.
const html = benchPageHtml();
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: process.env.REDIS_KEY_PREFIX ?? '' });
const cache = apicache.options({ redisClient: redis, defaultDuration: '1 hour' }).middleware;
const app = express();
app.get('/listings/:id', cache(), (_req, res) => {
  res.send(html);
});
app.listen(benchPort(), '127.0.0.1', () => announce(benchPort()));
