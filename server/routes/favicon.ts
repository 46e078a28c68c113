import { Router } from 'express';

/** The site's icon: a white house on the header's dark blue. Browsers ask for /favicon.ico whatever the page links. */
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">' +
  '<rect width="32" height="32" rx="6" fill="#1d2430"/>' +
  '<path d="M16 6 L27 16 H24 V26 H19 V20 H13 V26 H8 V16 H5 Z" fill="#fff"/></svg>';

const SIZE = 32;

/** Is pixel (x, y), from the top left, inside the house of the SVG above? */
function inHouse(x: number, y: number): boolean {
  const px = x + 0.5;
  const py = y + 0.5;
  const roof = py >= 6 && py <= 16 && Math.abs(px - 16) <= ((py - 6) * 11) / 10;
  const walls = py >= 16 && py <= 26 && px >= 8 && px <= 24;
  const door = py >= 20 && px >= 13 && px <= 19;
  return (roof || walls) && !door;
}

/** The same icon as a 32x32 ICO (one 32-bit BMP image), built once: no file to ship or read. */
function faviconIco(): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  for (let y = 0; y < SIZE; y += 1) {
    for (let x = 0; x < SIZE; x += 1) {
      const offset = ((SIZE - 1 - y) * SIZE + x) * 4; // BMP rows run bottom-up, BGRA
      const white = inHouse(x, y);
      pixels.set(white ? [0xff, 0xff, 0xff, 0xff] : [0x30, 0x24, 0x1d, 0xff], offset);
    }
  }
  const mask = Buffer.alloc((SIZE / 8) * SIZE); // AND mask, all opaque (the alpha channel rules)
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0); // BITMAPINFOHEADER size
  info.writeInt32LE(SIZE, 4);
  info.writeInt32LE(SIZE * 2, 8); // height of image and mask together
  info.writeUInt16LE(1, 12); // planes
  info.writeUInt16LE(32, 14); // bits per pixel
  info.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([info, pixels, mask]);
  const header = Buffer.alloc(6 + 16);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // type: icon
  header.writeUInt16LE(1, 4); // one image
  header.writeUInt8(SIZE, 6);
  header.writeUInt8(SIZE, 7);
  header.writeUInt16LE(1, 10); // planes
  header.writeUInt16LE(32, 12); // bits per pixel
  header.writeUInt32LE(image.length, 14);
  header.writeUInt32LE(header.length, 18); // offset of the image
  return Buffer.concat([header, image]);
}

const FAVICON_ICO = faviconIco();

/**
 * The icon never changes with the data: cacheable by browsers and CDNs for a week. Not a year and
 * `immutable` like the photos: /favicon.ico is asked for by that name, so a new icon must get through.
 */
const ICON_CACHE_CONTROL = 'public, max-age=604800';

export function createFaviconRouter(): Router {
  const router = Router();
  router.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', ICON_CACHE_CONTROL).type('image/x-icon').send(FAVICON_ICO);
  });
  router.get('/favicon.svg', (_req, res) => {
    res.set('Cache-Control', ICON_CACHE_CONTROL).type('image/svg+xml').send(FAVICON_SVG);
  });
  return router;
}
