import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { INVALIDATION_ENDPOINT } from '../routes/cache-invalidation';
import type { Logger } from './logger';

/** How long a client may take, and how much it may hold (SERVER_* env vars). */
export interface ServerLimits {
  /** The request line and headers must arrive within this (slow-header clients are cut off). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (slow uploads are cut off). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; more are closed as they come. */
  maxConnections: number;
  /** Requests a connection may have unanswered at once (pipelined); more close the connection. */
  maxPipelined: number;
  /** Bytes of answers a client may leave unread on its connection; a request past them closes it. */
  maxUnreadBytes: number;
}

const inFlight = new WeakMap<Socket, number>();

/**
 * Whether `Expect: 100-continue` is answered by the route, once the request is authenticated:
 * the invalidation endpoint, spelled as Express routes it (any case, a trailing slash).
 */
function continuesAfterAuthentication(url: string | undefined): boolean {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  const path = (query === -1 ? raw : raw.slice(0, query)).toLowerCase();
  return path === INVALIDATION_ENDPOINT || path === `${INVALIDATION_ENDPOINT}/`;
}

/**
 * The HTTP server with limits of seconds, not Node's minutes: a slow or never-reading client
 * holds a socket for at most a timeout, a connection cap bounds them all, and a client that
 * pipelines requests without reading the answers is cut off before their bytes pile up in
 * memory (Node itself stops reading a socket whose answers are not being read).
 */
export function createHttpServer(handler: RequestListener, limits: ServerLimits, logger: Logger): Server {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    // What the client has not read shows as the socket's buffered bytes; and a response with no
    // socket yet is queued behind an unfinished one (pipelined). Only those are counted, so an
    // ordinary request pays for no listener.
    if (socket.writableLength > limits.maxUnreadBytes) return cutOff(socket, inFlight.get(socket) ?? 0);
    if (res.socket === null) {
      const pending = (inFlight.get(socket) ?? 0) + 1;
      if (pending > limits.maxPipelined) return cutOff(socket, pending);
      inFlight.set(socket, pending);
      res.once('close', () => inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1));
    }
    handler(req, res);
  };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node looks for requests past their timeouts (default 30 s, longer than the timeouts themselves).
      connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    onRequest,
  );
  // With this listener Node no longer sends `100 Continue` by itself: an unauthenticated upload to
  // the invalidation endpoint is refused before the client is asked for its body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!continuesAfterAuthentication(req.url)) res.writeContinue();
    onRequest(req, res);
  });
  let cutOffs = 0;
  let cutOffLoggedAt = 0;
  function cutOff(socket: Socket, pending: number): void {
    cutOffs += 1;
    if (Date.now() - cutOffLoggedAt >= 10_000) {
      cutOffLoggedAt = Date.now();
      logger.warn(
        { connections: cutOffs, pipelined: pending, unreadBytes: socket.writableLength },
        'http: clients asking for more while leaving answers unread: connections closed (SERVER_MAX_PIPELINED, SERVER_MAX_UNREAD_KB)',
      );
      cutOffs = 0;
    }
    socket.destroy();
  }
  server.maxConnections = limits.maxConnections;
  // Said once per 10 s with a count: a flood of connections must not become a flood of log lines.
  let dropped = 0;
  let loggedAt = 0;
  server.on('drop', () => {
    dropped += 1;
    if (Date.now() - loggedAt < 10_000) return;
    loggedAt = Date.now();
    logger.warn({ dropped, maxConnections: limits.maxConnections }, 'http: connections refused at SERVER_MAX_CONNECTIONS');
    dropped = 0;
  });
  return server;
}
