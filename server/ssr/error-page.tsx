import { SITE_NAME, type RenderedPage } from './render-page';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  404: 'Page not found',
  500: 'Something went wrong',
  502: 'Listings are unavailable',
  503: 'Listings are unavailable',
  504: 'Listings took too long to load',
};

export function errorPage(publicUrl: string, status: number, message: string): RenderedPage {
  const title = TITLES[status] ?? (status >= 500 ? TITLES[500] : TITLES[400]) ?? 'Error';
  return {
    status,
    meta: {
      title: `${title} | ${SITE_NAME}`,
      description: message,
      canonicalUrl: `${publicUrl}/`,
      ogType: 'website',
      noindex: true,
    },
    body: (
      <>
        <h1>{title}</h1>
        <p>{message}</p>
        <p>
          <a href="/listings">Browse all listings</a>
        </p>
      </>
    ),
  };
}
