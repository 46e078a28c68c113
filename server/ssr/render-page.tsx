import type { ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

/** What crawlers read in <head>. URLs are absolute, built from PUBLIC_URL only. */
export interface PageMeta {
  title: string;
  description: string;
  /** Absolute canonical URL. */
  canonicalUrl: string;
  ogType: 'website' | 'article';
  imageUrl?: string;
  /** schema.org data, emitted as JSON-LD. */
  structuredData?: Record<string, unknown>;
  /** Error pages are not for the index. */
  noindex?: boolean;
}

export interface RenderedPage {
  status: number;
  meta: PageMeta;
  body: ReactNode;
}

export const SITE_NAME = 'Homestead Listings';

/** JSON inside <script> must not be able to close the tag or open a comment. */
function jsonForScript(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/**
 * The pages' CSS. Text colours keep a contrast of at least 4.5:1 (WCAG AA) against the backgrounds
 * they sit on: the price's #007a4d is 5.4:1 on the cards' white and 5.0:1 on the page's #f7f7f5.
 */
export const STYLES = `
body{font-family:system-ui,sans-serif;margin:0;color:#1d2430;background:#f7f7f5}
header,footer{background:#1d2430;color:#fff;padding:1rem 2rem}header a,footer a{color:#fff}
main{max-width:72rem;margin:0 auto;padding:1.5rem 2rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem;list-style:none;padding:0}
.card{background:#fff;border-radius:.5rem;padding:1rem;box-shadow:0 1px 3px #0002}.card h2,.card h3{font-size:1.125rem;margin:0 0 .5rem}
.price{font-weight:700;color:#007a4d}.pager{display:flex;gap:1rem;margin:1.5rem 0}
.facts{display:flex;gap:2rem;list-style:none;padding:0}.photos{display:flex;gap:.5rem;overflow-x:auto}
`;

function Document({ meta, children }: { meta: PageMeta; children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{meta.title}</title>
        <meta name="description" content={meta.description} />
        {meta.noindex ? <meta name="robots" content="noindex" /> : null}
        <link rel="canonical" href={meta.canonicalUrl} />
        <link rel="icon" href="/favicon.ico" sizes="32x32" />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <meta property="og:site_name" content={SITE_NAME} />
        <meta property="og:type" content={meta.ogType} />
        <meta property="og:title" content={meta.title} />
        <meta property="og:description" content={meta.description} />
        <meta property="og:url" content={meta.canonicalUrl} />
        {meta.imageUrl ? <meta property="og:image" content={meta.imageUrl} /> : null}
        <meta name="twitter:card" content={meta.imageUrl ? 'summary_large_image' : 'summary'} />
        <meta name="twitter:title" content={meta.title} />
        <meta name="twitter:description" content={meta.description} />
        {meta.imageUrl ? <meta name="twitter:image" content={meta.imageUrl} /> : null}
        {meta.structuredData ? <script type="application/ld+json" dangerouslySetInnerHTML={{ __html: jsonForScript(meta.structuredData) }} /> : null}
        <style dangerouslySetInnerHTML={{ __html: STYLES }} />
      </head>
      <body>
        <header>
          <a href="/">{SITE_NAME}</a> · <a href="/listings">All listings</a>
        </header>
        <main>{children}</main>
        <footer>© {SITE_NAME}</footer>
      </body>
    </html>
  );
}

/** A complete HTML document for a page, rendered with react-dom/server. */
export function renderPage(page: Pick<RenderedPage, 'meta' | 'body'>): string {
  return `<!DOCTYPE html>${renderToStaticMarkup(<Document meta={page.meta}>{page.body}</Document>)}`;
}
