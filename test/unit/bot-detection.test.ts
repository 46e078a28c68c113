import type { Request, Response } from 'express';
import { botDetection } from '../../server/middleware/bot-detection';
import { BROWSER, GOOGLEBOT } from '../helpers/app';

function detect(userAgent: string | undefined): boolean | undefined {
  const req = { headers: userAgent === undefined ? {} : { 'user-agent': userAgent } } as Request;
  botDetection(req, {} as Response, () => undefined);
  return req.isBot;
}

describe('botDetection', () => {
  it.each([
    GOOGLEBOT,
    'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'Twitterbot/1.0',
  ])('marks %s as a bot', (userAgent) => {
    expect(detect(userAgent)).toBe(true);
  });

  it('does not mark browsers or a missing user agent as bots', () => {
    expect(detect(BROWSER)).toBe(false);
    expect(detect(undefined)).toBe(false);
  });
});
