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
});
