import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { announce, benchPort } from './page';

// Raw Node http writing the representation our memory-tier hit sends (captured from it by
// bench/prepared.ts): the same header lines and the same prepared Buffer, for any request.
// Also the origin behind Varnish and nginx, so it counts the requests it answers.
interface Stored {
  headers: [string, string][];
  body: string;
}
const pages = JSON.parse(readFileSync(process.env.BENCH_PREPARED_FILE ?? '', 'utf8')) as Record<string, Stored>;
const page = pages[process.env.BENCH_PREPARED_ENCODING ?? 'br'];
if (!page) throw new Error(`no prepared representation ${process.env.BENCH_PREPARED_ENCODING}`);
const headers = page.headers.flat();
const body = Buffer.from(page.body, 'base64');

let answered = 0;
const server = createServer((_req, res) => {
  answered += 1;
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(benchPort(), '127.0.0.1', () => announce(benchPort()));

// The bench asks how many requests reached this server (a proxy's misses).
process.on('message', (message) => {
  if (message === 'answered') process.send?.({ answered });
});

// A clean exit on signals lets `node --cpu-prof` write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
