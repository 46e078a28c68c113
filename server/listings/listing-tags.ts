/**
 * Tags name what a page shows, so a change invalidates exactly the pages showing it:
 * `listing:{id}` for every listing on a page (its detail page, its cards); `listing-page:{id}` on
 * its detail page alone; on browse pages `listings:list` (every list),
 * `listings:sort:{sort}` and `listings:sort:{sort}:{city|all}` (one ordering of one list);
 * `listings:city:{city}` for pages listing a city's newest homes; `home`; `sitemap`.
 */
export const cacheTags = {
  listing: (id: string): string => `listing:${id}`,
  listingPage: (id: string): string => `listing-page:${id}`,
  lists: 'listings:list',
  sort: (sort: string): string => `listings:sort:${sort}`,
  sortedList: (sort: string, city: string | undefined): string => `listings:sort:${sort}:${city ? city.trim().toLowerCase() : 'all'}`,
  city: (city: string): string => `listings:city:${city.trim().toLowerCase()}`,
  home: 'home',
  /** The sitemap index and its children: every listing change alters them. */
  sitemap: 'sitemap',
} as const;
