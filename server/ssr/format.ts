const priceFormats = new Map<string, Intl.NumberFormat>();

export function formatPrice(amount: number, currency: string): string {
  let format = priceFormats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat('en-GB', { style: 'currency', currency, maximumFractionDigits: 0 });
    } catch {
      format = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
    }
    priceFormats.set(currency, format);
  }
  return format.format(amount);
}

export function absoluteUrl(publicUrl: string, pathOrUrl: string): string {
  return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${publicUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
}
