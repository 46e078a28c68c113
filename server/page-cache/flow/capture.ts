import type { ServerResponse } from 'node:http';

/** A copy of what a route sent. */
export interface CapturedBody {
  /** Undefined when the body grew past the bound. */
  body: Buffer | undefined;
  /**
   * The Content-Encoding of the bytes as they were copied. A compression middleware mounted
   * after the cache encodes before the copy and has set the header by then; one mounted before
   * it encodes after the copy, so the copy is identity even though the response is not.
   */
  encoding: string;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return undefined;
}

export interface ResponseCapture {
  /**
   * Answers in the route's place (a render that took too long) and ignores whatever the route
   * sends later; false when the route has already started its response.
   */
  takeOver(status: number, html: string): boolean;
}

/**
 * Copies what a handler sends, however it sends it (`res.send`, `res.write` + `res.end`,
 * `res.end`), and hands the copy to `onEnd` once the response ends. The response itself is
 * never held back or cut.
 */
export function captureResponseBody(res: ServerResponse, maxBytes: number, onEnd: (captured: CapturedBody) => void): ResponseCapture {
  const originalWrite = res.write;
  const originalEnd = res.end;
  let chunks: Buffer[] = [];
  let size = 0;
  let overflowed = false;
  let ended = false;
  let encoding: string | undefined;

  function collect(chunk: unknown, chunkEncoding: unknown): void {
    if (overflowed) return;
    const buffer = toBuffer(chunk, chunkEncoding);
    if (!buffer) return;
    encoding ??= String(res.getHeader('content-encoding') ?? 'identity');
    size += buffer.length;
    if (size > maxBytes) {
      overflowed = true;
      chunks = [];
      return;
    }
    chunks.push(buffer);
  }

  res.write = function write(this: ServerResponse, ...args: Parameters<ServerResponse['write']>) {
    collect(args[0], args[1]);
    return originalWrite.apply(this, args);
  } as ServerResponse['write'];

  res.end = function end(this: ServerResponse, ...args: unknown[]) {
    if (typeof args[0] !== 'function') collect(args[0], args[1]);
    const result = (originalEnd as (...endArgs: unknown[]) => ServerResponse).apply(this, args);
    if (!ended) {
      ended = true;
      onEnd({ body: overflowed ? undefined : Buffer.concat(chunks, size), encoding: encoding ?? 'identity' });
    }
    return result;
  } as ServerResponse['end'];

  return {
    takeOver(status, html) {
      if (ended || res.headersSent || encoding !== undefined) return false;
      ended = true;
      const body = Buffer.from(html);
      for (const name of res.getHeaderNames()) if (name !== 'x-cache' && name !== 'server-timing') res.removeHeader(name);
      res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
      (originalEnd as (chunk: Buffer) => ServerResponse).call(res, body);
      // The route may still answer: whatever it sends now goes nowhere, without errors.
      const ignore = function (this: ServerResponse) {
        return this;
      };
      res.setHeader = ignore as ServerResponse['setHeader'];
      res.writeHead = ignore as ServerResponse['writeHead'];
      res.write = (() => true) as ServerResponse['write'];
      res.end = ignore as ServerResponse['end'];
      return true;
    },
  };
}
