import { randomBytes } from 'node:crypto';
import express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { createPageCache, type PageCache } from '../../src';
import { realRedisUrl, removeKeys, uniquePrefix } from '../helpers';

const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const PERSON = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const until = async (probe: () => Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await probe()); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe('pages other caches stored (real Redis)', () => {
  const prefix = uniquePrefix('shared-pages');
  const redis = new Redis(realRedisUrl());
  const caches: PageCache[] = [];

  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  function site(options: { allAgents: boolean; body: () => string; lastModified?: string }) {
    const cache = createPageCache({ redis, keyPrefix: prefix, allAgents: options.allAgents, memoryTierBytes: 0, routes: { '/page': { ttl: 300 } } });
    caches.push(cache);
    const app = express();
    app.use(cache.middleware);
    app.get('/page', (_req, res) => {
      cache.tag(res, 'page');
      const nonce = randomBytes(9).toString('base64');
      res.setHeader('Content-Security-Policy', `script-src 'nonce-${nonce}'`);
      if (options.lastModified) res.setHeader('Last-Modified', options.lastModified);
      res.type('html').send(`<script nonce="${nonce}">1</script>${options.body()}`);
    });
    return { app, cache };
  }

  it('never serves people a page whose CSP nonce a crawler-only cache stored', async () => {
    await redis.ping();
    const crawlers = site({ allAgents: false, body: () => 'hello' });
    const stored = await request(crawlers.app).get('/page').set('User-Agent', BOT);
    await until(async () => (await request(crawlers.app).get('/page').set('User-Agent', BOT)).headers['x-cache'] === 'HIT');
    const storedNonce = /'nonce-([^']+)'/.exec(String(stored.headers['content-security-policy']))?.[1];

    // The same Redis, now shared with people (allAgents turned on, or another instance so configured).
    const everyone = site({ allAgents: true, body: () => 'hello' });
    const nonces = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await request(everyone.app).get('/page').set('User-Agent', PERSON);
      expect(res.headers['x-cache']).not.toBe('HIT');
      expect(res.headers['x-cache']).not.toBe('STALE');
      nonces.push(/'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))?.[1]);
    }
    expect(new Set(nonces).size).toBe(3);
    expect(nonces).not.toContain(storedNonce);
    await removeKeys(redis, prefix);
  });

  it('dates a changed page no earlier than the invalidation that named it, on an instance that never saw it', async () => {
    // The route dates its page by its data, which a removal does not move (an item gone from a list).
    const dataDate = new Date(Date.now() - 86_400_000).toUTCString();
    let body = 'three items';
    const a = site({ allAgents: false, body: () => body, lastModified: dataDate });
    const first = await request(a.app).get('/page').set('User-Agent', BOT);
    expect(first.headers['last-modified']).toBe(dataDate);
    await until(async () => (await request(a.app).get('/page').set('User-Agent', BOT)).headers['x-cache'] === 'HIT');

    body = 'two items';
    const before = Date.now();
    await a.cache.invalidate({ tags: ['page'], mode: 'hard' });
    // Another instance, which never held the page, renders it anew.
    const b = site({ allAgents: false, body: () => body, lastModified: dataDate });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const changed = await request(b.app).get('/page').set('User-Agent', BOT).set('If-Modified-Since', dataDate);
    expect(changed.status).toBe(200);
    expect(changed.text).toContain('two items');
    expect(Date.parse(String(changed.headers['last-modified']))).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });
});
