import request from 'supertest';
import { redisReady, testApp, waitFor } from '../helpers/app';
import { startPrivateRedis } from '../helpers/redis';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const ENDPOINT = '/api/cache/invalidate';
describe('Twenty webhook replays across a Redis outage (private redis-server)', () => {
  it('refuses a replay, once Redis is back, of a delivery accepted while it was away', async () => {
    const redisServer = await startPrivateRedis();
    const handle = testApp({ REDIS_URL: redisServer.url, TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET, REDIS_COMMAND_TIMEOUT_MS: '100' });
    try {
      await redisReady(handle);
      await redisServer.stop();
      await waitFor(async () => (handle.redis.status !== 'ready' ? true : undefined), 5000);
      const body = twentyEvent('updated', '7', { updatedFields: ['description'] });
      const headers = twentyHeaders(body);
      const accepted = await request(handle.app).post(ENDPOINT).set(headers).send(body);
      expect(accepted.status).toBe(202); // queued: applied once Redis is back
      await redisServer.start();
      await redisReady(handle);
      const replay = await request(handle.app)
        .post(ENDPOINT)
        .set({ ...headers, 'X-Twenty-Webhook-Nonce': 'another-nonce-0123456789' })
        .send(body);
      expect([replay.status, replay.body.error]).toEqual([401, 'this delivery (its signature) was already received: a replayed request']);
    } finally {
      await handle.close();
      await redisServer.stop();
    }
  }, 20_000);
});
