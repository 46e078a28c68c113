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

/** A request's body: its bytes, or the value a body parser mounted before made of them (express.json). */
export type RequestBody = { bytes: Buffer } | { value: unknown };

/**
 * The body as an earlier body parser left it on `req.body`: a Buffer (express.raw, body-parser's
 * raw), a string (express.text) or a parsed value (express.json), held to the same `limit`
 * where its size is known. Undefined when no parser read the stream.
 */
function bodyReadBefore(req: IncomingMessage, limit: number): RequestBody | undefined {
  const earlier = (req as IncomingMessage & { body?: unknown }).body;
  if (Buffer.isBuffer(earlier)) return { bytes: withinLimit(earlier, limit) };
  if (typeof earlier === 'string') return { bytes: withinLimit(Buffer.from(earlier, 'utf8'), limit) };
  // Express 4's parsers leave `{}` on requests they skip, without reading them: only a spent stream says one read it.
  if (!req.readableEnded) return undefined;
  if (earlier === undefined || earlier === null) {
    throw new BodyError(400, 'request body was read by a middleware mounted before this one and not kept: mount the invalidation router before it');
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  return { value: earlier };
}

function tooLarge(limit: number): BodyError {
  return new BodyError(413, `request body is larger than ${describeLimit(limit)}`);
}

function withinLimit(bytes: Buffer, limit: number): Buffer {
  if (bytes.length > limit) throw tooLarge(limit);
  return bytes;
}

/**
 * Reads a request body of at most `limit` bytes (before and after decoding), or rejects with a
 * BodyError naming the problem. A body already read by an earlier body parser is taken as it left it.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<RequestBody> {
  return bodyReadBefore(req, limit) ?? { bytes: await readStream(req, limit) };
}

async function readStream(req: IncomingMessage, limit: number): Promise<Buffer> {
  const coding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const decode = coding === 'identity' ? undefined : DECODERS[coding];
  if (coding !== 'identity' && !decode) throw new BodyError(415, `unsupported content encoding "${coding}"`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  if (!decode) return raw;
  try {
    return decode(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new BodyError(400, `request body is not valid ${coding} data`);
  }
}

function parseJson(bytes: Buffer, example: string): { value: unknown } | { error: string } {
  const text = bytes.toString('utf8');
  if (text.trim() === '') return { error: `request body is empty: send JSON such as ${example}` };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `request body is not valid JSON: ${(error as Error).message}` };
  }
}

/** A body as a JSON object, or what is wrong with it: bytes are parsed here, a value an earlier parser made is only checked. */
export function jsonObjectOf(body: RequestBody, example: string): { value: Record<string, unknown> } | { error: string } {
  const parsed = 'value' in body ? body : parseJson(body.bytes, example);
  if ('error' in parsed) return parsed;
  const json = parsed.value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'request body must be a JSON object' };
  return { value: json as Record<string, unknown> };
}
