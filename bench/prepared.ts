import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import type Redis from 'ioredis';
import { BOT_ENCODINGS, freePort, GOOGLEBOT, removeKeys, RUN_ID, startServer, stopServer } from './harness';

/** One representation exactly as our memory-tier hit sent it: header lines in order, body bytes. */
export interface PreparedRepresentation {
  headers: [string, string][];
  body: Buffer;
}

/** What the same-bytes raw servers send, captured from our own hit at the start of the run. */
export interface PreparedPages {
  /** A JSON file for bench/servers/raw-prepared.ts (BENCH_PREPARED_FILE). */
  file: string;
  br: PreparedRepresentation;
  identity: PreparedRepresentation;
  /** The br body decodes to the identity body, byte for byte. */
  brDecodesToIdentity: boolean;
  remove(): void;
}

/** Headers Node writes on its own on every response, ours and the raw server's alike. */
const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

function get(port: number, pagePath: string, acceptEncoding: string): Promise<{ status: number; rawHeaders: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // node:http, not fetch: the body as sent, never decoded.
    const req = request({ host: '127.0.0.1', port, path: pagePath, headers: { 'user-agent': GOOGLEBOT, 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks until the answer is a memory-tier HIT (the first is the MISS that stores the page). */
async function captureHit(port: number, pagePath: string, acceptEncoding: string): Promise<PreparedRepresentation> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const { status, rawHeaders, body } = await get(port, pagePath, acceptEncoding);
    const headers: [string, string][] = [];
    for (let index = 0; index < rawHeaders.length; index += 2) headers.push([rawHeaders[index]!, rawHeaders[index + 1]!]);
    const value = (name: string) => headers.find(([header]) => header.toLowerCase() === name)?.[1];
    if (status === 200 && value('x-cache') === 'HIT' && value('server-timing')?.includes('memory')) {
      return { headers: headers.filter(([name]) => !PER_CONNECTION.has(name.toLowerCase())), body };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no memory-tier HIT for ${pagePath} (Accept-Encoding: ${acceptEncoding}) after 20 requests`);
}

/**
 * Starts our server (memory tier, the hit scenarios' catalog), takes the br and the identity
 * representation of the page from its memory-tier hits, and writes them to a file under the
 * system temp dir for the raw servers and the proxies' origin to send as they are.
 */
export async function preparePages(redis: Redis, pagePath: string): Promise<PreparedPages> {
  const port = await freePort();
  const keyPrefix = `bench:${RUN_ID}:prepare:`;
  const child = await startServer({ name: 'prepare', script: 'ours.ts' }, port, keyPrefix);
  try {
    const br = await captureHit(port, pagePath, BOT_ENCODINGS);
    const identity = await captureHit(port, pagePath, 'identity');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssr-bench-prepared-'));
    const file = path.join(dir, 'pages.json');
    const json = (page: PreparedRepresentation) => ({ headers: page.headers, body: page.body.toString('base64') });
    writeFileSync(file, JSON.stringify({ br: json(br), identity: json(identity) }));
    let brDecodesToIdentity = false;
    try {
      brDecodesToIdentity = brotliDecompressSync(br.body).equals(identity.body);
    } catch {
      brDecodesToIdentity = false;
    }
    return { file, br, identity, brDecodesToIdentity, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } finally {
    await stopServer(child);
    await removeKeys(redis, keyPrefix);
  }
}
