import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { testApp } from '../helpers/app';
import { parseScrape } from '../helpers/metrics';
import { freePort } from '../helpers/redis';

const OPS = path.resolve(__dirname, '../../ops');

/** promtool, from Debian's prometheus package (.ci/run installs it). */
function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: OPS, input, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool did not run (apt-get install prometheus provides it): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

const dashboard = JSON.parse(readFileSync(path.join(OPS, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
const dashboardExprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
const alertRules = readFileSync(path.join(OPS, 'prometheus-alerts.yml'), 'utf8');

/** Metric names a PromQL text reads (ours and Node's), without histogram series suffixes. */
function metricNames(promql: string): string[] {
  const names = promql.match(/\b(ssr_cache|process|nodejs)_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, '')))];
}

describe('ops/: alert rules and the Grafana dashboard', () => {
  it('the alert rules pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', 'prometheus-alerts.yml']);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS: 6 rules found') });
  });

  it('the alert rules fire as their promtool unit tests say (hit rate, Redis down, Redis memory, stale share)', () => {
    const { status, output } = promtool(['test', 'rules', 'prometheus-alerts.test.yml']);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('every dashboard query is valid PromQL (checked by promtool as recording rules)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-rules-'));
    try {
      const rules = dashboardExprs
        .map((expr, index) => `      - record: dashboard:panel_${index}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '5m'))}`)
        .join('\n');
      writeFileSync(path.join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      const { status, output } = promtool(['check', 'rules', path.join(dir, 'rules.yml')]);
      expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining(`SUCCESS: ${dashboardExprs.length} rules found`) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('against what GET /metrics exports', () => {
    let text: string;
    let ownText: string;
    beforeAll(async () => {
      // Every metric is registered when the app is made, whether Redis answers or not.
      const handle = testApp({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
      try {
        text = (await request(handle.app).get('/metrics')).text;
        ownText = await handle.metrics.registry.metrics();
      } finally {
        await handle.close();
      }
    });

    // prom-client's own process metrics break a lint rule (nodejs_active_handles_total is a gauge).
    it("the cache's metrics pass promtool check metrics (names, units, HELP and TYPE)", () => {
      expect(ownText).toContain('ssr_cache_requests_total');
      const { status, output } = promtool(['check', 'metrics'], ownText);
      expect({ status, output }).toEqual({ status: 0, output: '' });
    });

    it('the alert rules and the dashboard read only metrics the server exports', () => {
      const exported = parseScrape(text).families;
      const read = [...metricNames(alertRules), ...dashboardExprs.flatMap(metricNames)];
      expect(read.length).toBeGreaterThan(10);
      expect([...new Set(read)].filter((name) => !exported.has(name))).toEqual([]);
    });
  });
});
