import { Agent, request } from 'node:http';

/**
 * GETs /health every `everyMs` for `durationMs`, on a new connection each time and on one
 * kept-alive connection, and prints the latencies as JSON. Run in a process of its own by
 * tools/slow-clients.ts, so what it measures is the server, not the attacking process's own
 * event loop: `node --import tsx tools/health-probe.ts <baseUrl> <durationMs> <everyMs>`.
 */
export interface Latencies {
  latencies: number[];
  failed: number;
}

export interface ProbeLatencies {
  fresh: Latencies;
  keptAlive: Latencies;
}

/** One GET /health: ms until its body ended, undefined unless 200 (`agent: false`: a new connection). */
export function probe(baseUrl: string, agent: Agent | false = false): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(`${baseUrl}/health`, { agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - started : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function main(): Promise<void> {
  const [baseUrl, durationMs, everyMs] = [process.argv[2] ?? '', Number(process.argv[3]), Number(process.argv[4] ?? 100)];
  const result: ProbeLatencies = { fresh: { latencies: [], failed: 0 }, keptAlive: { latencies: [], failed: 0 } };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const record = (into: Latencies) => (ms: number | undefined) => {
    if (ms === undefined) into.failed += 1;
    else into.latencies.push(ms);
  };
  const probes: Promise<void>[] = [];
  process.stdout.write('probing\n');
  const started = Date.now();
  while (Date.now() - started < durationMs) {
    probes.push(probe(baseUrl, false).then(record(result.fresh)), probe(baseUrl, agent).then(record(result.keptAlive)));
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  await Promise.all(probes);
  agent.destroy();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) void main();
