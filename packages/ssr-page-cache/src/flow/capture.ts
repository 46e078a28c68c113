import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A copy of what a route sent. */
export interface CapturedBody {
  /** Undefined when the body grew past the bound (it was then sent as the route wrote it). */
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

/** What the cache does with a held response once the route has ended it. */
export interface HeldResponse {
  /** The response being held (its status and headers are as the route set them). */
  readonly response: ServerResponse;
  /** Sends the response as the route wrote it (it may not be shared, or could not be stored). */
  release(): void;
  /** Sends this instead: the stored representation, with the headers every later hit sends. */
  replace(status: number, headers: readonly (string | number | string[])[], body: Buffer | undefined): void;
}

export interface ResponseCapture {
  /**
   * Answers in the route's place (a render that took too long) with these headers (a flat
   * name, value list) and body, and ignores whatever the route sends later; false when the
   * response is already on its way. Of the headers set so far only X-Cache, Server-Timing and
   * the per-request ones (liveHeaders) are kept.
   */
  takeOver(status: number, headers: readonly (string | number | string[])[], body: Buffer | undefined): boolean;
}

type Write = ServerResponse['write'];
type End = (...args: unknown[]) => ServerResponse;

/**
 * Holds what a handler sends, however it sends it (`res.send`, `res.write` + `res.end`,
 * `res.end`, `writeHead`), and hands the copy to `onEnd` once the route ends its response, with
 * the means to send either that response or the stored representation in its place: so a MISS
 * sends exactly the bytes, ETag and encoding later HITs send. A body past `maxBytes` is not held:
 * what was held goes out at once (saying `X-Cache-Reason: too-large`) and the rest streams as the
 * route writes it.
 */
export function captureResponseBody(
  res: ServerResponse,
  limits: { maxBytes: number; liveHeaders: ReadonlySet<string> },
  onEnd: (captured: CapturedBody, held: HeldResponse) => void,
): ResponseCapture {
  const { maxBytes, liveHeaders } = limits;
  const original = { write: res.write, end: res.end as End, writeHead: res.writeHead };
  let chunks: Buffer[] = [];
  let size = 0;
  let streaming = false;
  let ended = false;
  let sent = false;
  let encoding: string | undefined;

  const restore = () => {
    res.write = original.write;
    res.end = original.end as ServerResponse['end'];
    res.writeHead = original.writeHead;
  };

  /** The held response goes out as the route wrote it; later writes go straight through (the end stays watched). */
  function flushHeld(): void {
    streaming = true;
    if (!res.headersSent) res.setHeader('X-Cache-Reason', 'too-large');
    res.write = original.write;
    res.writeHead = original.writeHead;
    for (const chunk of chunks) (original.write as (chunk: Buffer) => boolean).call(res, chunk);
    chunks = [];
  }

  res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    // Held: recorded on the response, sent with the body (or replaced by the stored representation).
    this.statusCode = status;
    const headers = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as OutgoingHttpHeaders | (string | number | string[])[] | undefined;
    if (Array.isArray(headers)) for (let i = 0; i + 1 < headers.length; i += 2) this.setHeader(String(headers[i]), headers[i + 1] as string);
    else if (headers) for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value);
    return this;
  } as ServerResponse['writeHead'];

  function hold(chunk: unknown, chunkEncoding: unknown): void {
    const buffer = toBuffer(chunk, chunkEncoding);
    if (!buffer || buffer.length === 0) return;
    encoding ??= String(res.getHeader('content-encoding') ?? 'identity');
    size += buffer.length;
    chunks.push(buffer);
    if (size > maxBytes) flushHeld();
  }

  res.write = function write(this: ServerResponse, ...args: Parameters<Write>) {
    hold(args[0], args[1]);
    // Held bytes are "written" at once, as far as the route can tell.
    const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) setImmediate(callback);
    return true;
  } as Write;

  const streamed: HeldResponse = { response: res, release: () => undefined, replace: () => undefined };
  res.end = function end(this: ServerResponse, ...args: unknown[]) {
    if (ended) return this;
    ended = true;
    if (streaming) {
      restore();
      original.end.apply(this, args);
      onEnd({ body: undefined, encoding: encoding ?? 'identity' }, streamed);
      return this;
    }
    if (typeof args[0] !== 'function') hold(args[0], args[1]);
    if (streaming) {
      // The last chunk took it past the bound: it has gone out with the rest.
      restore();
      original.end.call(this);
      onEnd({ body: undefined, encoding: encoding ?? 'identity' }, streamed);
      return this;
    }
    const body = Buffer.concat(chunks, size);
    const held: HeldResponse = {
      response: res,
      release() {
        if (sent) return;
        sent = true;
        restore();
        if (!res.hasHeader('content-length') && !res.hasHeader('transfer-encoding')) res.setHeader('Content-Length', body.length);
        original.end.call(res, body.length > 0 ? body : undefined);
      },
      replace(status, headers, replacement) {
        if (sent) return;
        sent = true;
        restore();
        // The route's own headers would contradict the representation's (length, coding, tag).
        for (const name of ['content-length', 'content-encoding', 'etag', 'vary', 'transfer-encoding']) res.removeHeader(name);
        original.writeHead.call(res, status, headers as (string | number)[]);
        original.end.call(res, replacement);
      },
    };
    onEnd({ body, encoding: encoding ?? 'identity' }, held);
    return this;
  } as ServerResponse['end'];

  return {
    takeOver(status, headers, body) {
      if (ended || sent || streaming) return false;
      ended = true;
      sent = true;
      chunks = [];
      restore();
      for (const name of res.getHeaderNames()) if (name !== 'x-cache' && name !== 'server-timing' && !liveHeaders.has(name)) res.removeHeader(name);
      original.writeHead.call(res, status, headers as (string | number)[]);
      original.end.call(res, res.req?.method === 'HEAD' ? undefined : body);
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
