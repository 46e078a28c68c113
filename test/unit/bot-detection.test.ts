import { createBotTest } from '../../packages/ssr-page-cache/src/flow/recv';
import { BROWSER, GOOGLEBOT } from '../helpers/app';

describe('the bot test', () => {
  const isBot = createBotTest();

  it.each([
    GOOGLEBOT,
    'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'Twitterbot/1.0',
  ])('marks %s as a bot', (userAgent) => {
    expect(isBot(userAgent)).toBe(true);
  });

  it('does not mark browsers or a missing user agent as bots', () => {
    expect(isBot(BROWSER)).toBe(false);
    expect(isBot(undefined)).toBe(false);
  });

  it("asks a host's own test, once per User-Agent", () => {
    const asked: string[] = [];
    const custom = createBotTest((userAgent) => {
      asked.push(userAgent);
      return userAgent.startsWith('MyCrawler');
    });
    expect([custom('MyCrawler/1.0'), custom('MyCrawler/1.0'), custom(GOOGLEBOT)]).toEqual([true, true, false]);
    expect(asked).toEqual(['MyCrawler/1.0', GOOGLEBOT]);
  });
});
