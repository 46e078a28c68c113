import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
  res.end(bytes);
}

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

const DECODERS: Record<string, (input: Buffer, options: zlib.ZlibOptions) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync as (input: Buffer, options: zlib.ZlibOptions) => Buffer,
};

function describeLimit(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}kb` : `${bytes} bytes`;
}

/**
 * Reads a request body of at most `limit` bytes (before and after decoding), or rejects with a
 * BodyError naming the problem. A body already read by an earlier body parser is taken as is.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (Buffer.isBuffer(parsed)) return parsed;
  const coding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const decode = coding === 'identity' ? undefined : DECODERS[coding];
  if (coding !== 'identity' && !decode) throw new BodyError(415, `unsupported content encoding "${coding}"`);
  const tooLarge = () => new BodyError(413, `request body is larger than ${describeLimit(limit)}`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  if (!decode) return raw;
  try {
    return decode(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new BodyError(400, `request body is not valid ${coding} data`);
  }
}

/** Parses a body as a JSON object, or says what is wrong with it. */
export function parseJsonObject(raw: Buffer, example: string): { value: Record<string, unknown> } | { error: string } {
  const text = raw.toString('utf8');
  if (text.trim() === '') return { error: `request body is empty: send JSON such as ${example}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `request body is not valid JSON: ${(error as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'request body must be a JSON object' };
  return { value: json as Record<string, unknown> };
}
