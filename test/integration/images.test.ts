import request from 'supertest';
import { GOOGLEBOT, testApp } from '../helpers/app';

describe("the embedded catalog's images", () => {
  const handle = testApp({ SSR_CACHE_ENABLED: 'false' });
  afterAll(() => handle.close());

  it('answers every image a detail page links with 200, an SVG, cacheable for a year', async () => {
    const page = await request(handle.app).get('/listings/7').set('User-Agent', GOOGLEBOT).expect(200);
    const images = [...new Set([...page.text.matchAll(/(?:src|content)="(?:https?:\/\/[^/"]+)?(\/images\/[^"]+)"/g)].map((match) => match[1] as string))];
    expect(images.length).toBeGreaterThanOrEqual(10);
    for (const path of images) {
      const res = await request(handle.app).get(path);
      expect([path, res.status, res.headers['content-type']]).toEqual([path, 200, 'image/svg+xml; charset=utf-8']);
      expect(res.headers['cache-control']).toContain('max-age=31536000');
    }
    const first = await request(handle.app).get(images[0] as string);
    expect(first.text ?? first.body.toString()).toContain('<svg');
  });

  it('answers a made-up image path with the 404 page', async () => {
    for (const path of ['/images/listings/7/0.svg', '/images/listings/7/1.jpg', '/images/listings/%3Cscript%3E/1.svg']) {
      expect((await request(handle.app).get(path)).status).toBe(404);
    }
  });

  it('answers /favicon.ico with an icon, cacheable, and the icon the pages link', async () => {
    const ico = await request(handle.app)
      .get('/favicon.ico')
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(ico.headers['content-type']).toBe('image/x-icon');
    expect(ico.headers['cache-control']).toMatch(/public, max-age=\d{6,}/);
    const body = ico.body as Buffer;
    // ICONDIR: reserved 0, type 1 (icon), one image of 32x32 at 32 bits, its bytes all there.
    expect([body.readUInt16LE(0), body.readUInt16LE(2), body.readUInt16LE(4), body[6], body[7], body.readUInt16LE(12)]).toEqual([0, 1, 1, 32, 32, 32]);
    expect(body.length).toBe(body.readUInt32LE(18) + body.readUInt32LE(14));
    const page = await request(handle.app).get('/').set('User-Agent', GOOGLEBOT).expect(200);
    const icons = [...page.text.matchAll(/<link rel="icon" href="([^"]+)"/g)].map((match) => match[1] as string);
    expect(icons).toEqual(['/favicon.ico', '/favicon.svg']);
    const svg = await request(handle.app).get('/favicon.svg').expect(200);
    expect(svg.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(svg.headers['cache-control']).toBe(ico.headers['cache-control']);
    expect(svg.text ?? (svg.body as Buffer).toString()).toContain('<svg');
  });
});
