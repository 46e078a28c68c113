import type { Response } from 'express';

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return undefined;
}

/**
 * Copies what a handler sends, however it sends it (`res.send`, `res.write` + `res.end`,
 * `res.end`), and hands the whole body to `onEnd` once the response ends: `undefined` when
 * it grew past `maxBytes` (the response itself is never held back or cut).
 */
export function captureResponseBody(res: Response, maxBytes: number, onEnd: (body: Buffer | undefined) => void): void {
  const originalWrite = res.write;
  const originalEnd = res.end;
  let chunks: Buffer[] = [];
  let size = 0;
  let overflowed = false;
  let ended = false;

  function collect(chunk: unknown, encoding: unknown): void {
    if (overflowed) return;
    const buffer = toBuffer(chunk, encoding);
    if (!buffer) return;
    size += buffer.length;
    if (size > maxBytes) {
      overflowed = true;
      chunks = [];
      return;
    }
    chunks.push(buffer);
  }

  res.write = function write(this: Response, ...args: Parameters<Response['write']>) {
    collect(args[0], args[1]);
    return originalWrite.apply(this, args);
  } as Response['write'];

  res.end = function end(this: Response, ...args: unknown[]) {
    if (typeof args[0] !== 'function') collect(args[0], args[1]);
    const result = (originalEnd as (...endArgs: unknown[]) => Response).apply(this, args);
    if (!ended) {
      ended = true;
      onEnd(overflowed ? undefined : Buffer.concat(chunks, size));
    }
    return result;
  } as Response['end'];
}
