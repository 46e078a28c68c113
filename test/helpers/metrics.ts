import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import request from 'supertest';
import type { Express } from 'express';

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];

/** A /metrics scrape, parsed by a Prometheus text-format parser, with lookups by name and labels. */
export interface Scrape {
  families: Map<string, Family>;
  /** A counter's or gauge's value; 0 when the labelled series is not there yet. */
  value(name: string, labels?: Record<string, string>): number;
  /** A histogram series' observation count; 0 when not there yet. */
  count(name: string, labels?: Record<string, string>): number;
}

function matches(sample: { labels?: Record<string, string> }, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value);
}

/**
 * The parser folds a histogram's series into one object and drops their labels when they have
 * any (it follows prom2json's output for unlabelled ones). Parsed a second time with the
 * histogram TYPE lines left out, each `_bucket`, `_sum` and `_count` line is a plain labelled sample.
 */
export function parseScrape(text: string): Scrape {
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  const series = new Map<string, Family>();
  for (const family of parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, ''))) {
    // Untyped, one histogram's series of each label set come as a new run of _bucket, _sum, _count.
    const known = series.get(family.name);
    if (known) known.metrics.push(...family.metrics);
    else series.set(family.name, family);
  }
  const sample = (name: string, labels: Record<string, string>) => {
    const family = series.get(name);
    // A labelled metric with no series yet has its HELP and TYPE lines only.
    if (!family && !families.has(name.replace(/_(count|sum|bucket)$/, ''))) throw new Error(`metric ${name} is not exported`);
    return family?.metrics.find((candidate) => matches(candidate, labels));
  };
  return {
    families,
    value: (name, labels = {}) => Number(sample(name, labels)?.value ?? 0),
    count: (name, labels = {}) => Number(sample(`${name}_count`, labels)?.value ?? 0),
  };
}

export async function scrape(app: Express, token?: string): Promise<Scrape> {
  const req = request(app).get('/metrics');
  const res = await (token ? req.set('Authorization', `Bearer ${token}`) : req);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return parseScrape(res.text);
}
