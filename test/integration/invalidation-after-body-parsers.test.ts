import express, { type RequestHandler } from 'express';
import type { IncomingMessage } from 'node:http';
import request from 'supertest';
import { GOOGLEBOT, TEST_TOKEN, useAppOnRealRedis, waitForStored } from '../helpers/app';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const ENDPOINT = '/api/cache/invalidate';

/** Keeps the bytes a body parser read, as Express's `verify` hook allows. */
const keepRawBody = (req: IncomingMessage, _res: unknown, buf: Buffer) => {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
};

/**
 * The listings server embedded in a host that mounts its body parsers first, as most Express
 * apps do: the signed Twenty webhook needs the raw bytes it was signed over, the bearer forms do not.
 */
describe('POST /api/cache/invalidate behind a body parser mounted first', () => {
  const context = useAppOnRealRedis('after-parsers', { TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET, TWENTY_WEBHOOK_MODE: 'hard' });

  /** A host whose first middleware is `parser`, with the listings app mounted after it. */
  function host(parser: RequestHandler): express.Express {
    const outer = express();
    outer.use(parser);
    outer.use(context.handle.app);
    return outer;
  }
  const bot = (path: string) => request(context.handle.handler).get(path).set('User-Agent', GOOGLEBOT);
  async function cached(path: string): Promise<void> {
    expect((await bot(path)).status).toBe(200);
    await waitForStored(context.handle, `ssr:${path}`);
  }
  const signed = (app: express.Express, body: string) => request(app).post(ENDPOINT).set(twentyHeaders(body)).send(body);

  it('refuses a signed Twenty webhook after express.json() with a 400 that names both fixes, and invalidates nothing', async () => {
    await cached('/listings/11');
    const body = twentyEvent('updated', '11', { updatedFields: ['description'] });
    const res = await signed(host(express.json()), body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/signature is over its raw body/);
    expect(res.body.error).toMatch(/mount the invalidation route before express\.json\(\)/);
    expect(res.body.error).toContain('express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })');
    expect((await bot('/listings/11')).headers['x-cache']).toBe('HIT');
  });

  it("accepts a signed Twenty webhook after express.json({ verify }) that keeps req.rawBody, and the listing's page is a MISS again", async () => {
    await cached('/listings/12');
    const body = twentyEvent('updated', '12', { updatedFields: ['description'] });
    const res = await signed(host(express.json({ verify: keepRawBody })), body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ source: 'twenty', event: 'listing.updated', ids: ['12'], deleted: 1 });
    expect((await bot('/listings/12')).headers['x-cache']).toBe('MISS');
  });

  it('checks the signature over req.rawBody as it arrived: a body laid out otherwise passes, a changed one is refused', async () => {
    const app = host(express.json({ verify: keepRawBody }));
    // Indented JSON: the parsed object serialised again would not be the bytes that were signed.
    const indented = JSON.stringify(JSON.parse(twentyEvent('updated', '13', { updatedFields: ['description'] })), null, 2);
    expect((await signed(app, indented)).status).toBe(200);
    const body = twentyEvent('updated', '14', { updatedFields: ['description'] });
    const tampered = await request(app).post(ENDPOINT).set(twentyHeaders(body)).send(body.replace('"14"', '"15"'));
    expect([tampered.status, tampered.body.error]).toEqual([401, 'signature does not match']);
  });

  it("accepts a signed Twenty webhook after express.raw({ type: '*/*' }): its Buffer is the raw body", async () => {
    await cached('/listings/16');
    const body = twentyEvent('updated', '16', { updatedFields: ['description'] });
    const res = await signed(host(express.raw({ type: '*/*' })), body);
    expect(res.status).toBe(200);
    expect(res.body.ids).toEqual(['16']);
  });

  it('accepts the bearer forms after express.json(): the parsed body is used', async () => {
    await cached('/listings/17');
    const res = await request(host(express.json()))
      .post(ENDPOINT)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ type: 'listing', id: '17' });
    expect(res.status).toBe(200);
    expect(res.body.keys).toContain('ssr:/listings/17');
    expect((await bot('/listings/17')).headers['x-cache']).toBe('MISS');
  });
});

describe('any method but POST on /api/cache/invalidate of the listings server', () => {
  const context = useAppOnRealRedis('invalidate-405');

  it.each(['GET', 'PUT', 'DELETE'])('answers %s with 405, Allow: POST and a JSON error, not the 404 page', async (method) => {
    const res = await request(context.handle.handler)[method.toLowerCase() as 'get' | 'put' | 'delete'](ENDPOINT).set('User-Agent', GOOGLEBOT);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.error).toMatch(/^\/api\/cache\/invalidate takes POST only/);
  });
});
