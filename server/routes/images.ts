import { createHash } from 'node:crypto';
import { Router } from 'express';

/** The embedded catalog's photos: `/images/listings/{id}/{n}.svg`, a placeholder drawn from the id, so pages a crawler sees are whole. */
export const LISTING_IMAGE_PATH = '/images/listings/:id/:file';
const FILE = /^([1-9]\d?)\.svg$/;
const MAX_ID_LENGTH = 128;

function placeholder(id: string, photo: number): string {
  const hue = createHash('sha256').update(`${id}/${photo}`).digest().readUInt16BE(0) % 360;
  const label = `Listing ${id} · photo ${photo}`.replace(/[&<>"']/g, '');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480" viewBox="0 0 640 480" role="img" aria-label="${label}">` +
    `<rect width="640" height="480" fill="hsl(${hue},45%,62%)"/>` +
    `<path d="M120 360 L260 200 L360 300 L430 240 L520 360 Z" fill="hsl(${hue},35%,38%)"/>` +
    `<circle cx="480" cy="140" r="40" fill="hsl(${(hue + 40) % 360},70%,85%)"/>` +
    `<text x="320" y="430" font-family="sans-serif" font-size="22" text-anchor="middle" fill="#fff">${label}</text></svg>`
  );
}

export function createImageRouter(): Router {
  const router = Router();
  router.get(LISTING_IMAGE_PATH, (req, res, next) => {
    const match = FILE.exec(req.params.file ?? '');
    const id = req.params.id ?? '';
    if (!match || id.length > MAX_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(id)) return next();
    // The same id and number always draw the same picture: cacheable by browsers and CDNs for a year.
    res
      .set('Cache-Control', 'public, max-age=31536000, immutable')
      .type('image/svg+xml')
      .send(placeholder(id, Number(match[1])));
  });
  return router;
}
