import type { RequestHandler } from 'express';
import { isbot } from 'isbot';

/** Sets `req.isBot` for crawlers (Googlebot, Bingbot, facebookexternalhit, ...), per the isbot list. */
export const botDetection: RequestHandler = (req, _res, next) => {
  req.isBot = isbot(req.headers['user-agent']);
  next();
};
