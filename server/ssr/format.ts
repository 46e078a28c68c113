const priceFormats = new Map<string, Intl.NumberFormat>();

/** What a listing without a price shows, in place of an amount (never 0). */
const PRICE_ON_REQUEST = 'Price on request';

/**
 * A currency code (`EUR`, `usd`) upper-cased; anything but three letters: undefined. Intl takes
 * any well-formed code (ECMA-402 checks only the shape; an unknown one is shown as its letters).
 */
function currencyCode(currency: string): string | undefined {
  const code = currency.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(code) ? code : undefined;
}

function priceFormat(currency: string, whole: boolean): Intl.NumberFormat {
  const key = `${currency}|${whole ? 'whole' : 'fraction'}`;
  let format = priceFormats.get(key);
  if (!format) {
    const code = currencyCode(currency);
    // Whole amounts without fraction digits (€250,000); others with the currency's own (€1,234.50, ¥1,235).
    const digits = whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {};
    format = code
      ? new Intl.NumberFormat('en-GB', { style: 'currency', currency: code, ...digits })
      : new Intl.NumberFormat('en-GB', { maximumFractionDigits: whole ? 0 : 2 });
    priceFormats.set(key, format);
  }
  return format;
}

/** A price in the listing's own currency; no price (null): "Price on request". */
export function formatPrice(amount: number | null, currency: string): string {
  if (amount === null || !Number.isFinite(amount)) return PRICE_ON_REQUEST;
  const text = priceFormat(currency, Number.isInteger(amount)).format(amount);
  // Text that is not a currency code is still said, after the number, rather than dropped.
  return currencyCode(currency) || currency.trim() === '' ? text : `${text} ${currency.trim()}`;
}

/** `1 bedroom`, `2 bedrooms`, `0 bedrooms`. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

export function absoluteUrl(publicUrl: string, pathOrUrl: string): string {
  return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${publicUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
}
