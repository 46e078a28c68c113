import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createHttpServer } from '../../server/utils/http-server';
import { TEST_TOKEN, testConfig, useAppOnRealRedis } from '../helpers/app';
import { twentyEvent, twentyHeaders, WEBHOOK_SECRET } from '../helpers/twenty-signing';

const ENDPOINT = '/api/cache/invalidate';

/** One connection, spoken to byte by byte: what the server sent so far, and a wait for more. */
interface Conversation {
  socket: Socket;
  received(): string;
  /** Resolves with everything received once it matches; rejects after 3 s or when the socket closes without it. */
  until(pattern: RegExp): Promise<string>;
}

function converse(port: number, head: string): Conversation {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of waiters) waiter();
  };
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => undefined);
  socket.write(head);
  return {
    socket,
    received: () => text,
    until(pattern) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no ${pattern} within 3 s; received: ${JSON.stringify(text)}`)), 3000);
        const done = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(text);
        };
        const check = () => {
          if (pattern.test(text)) done();
          else if (closed) done(new Error(`closed without ${pattern}; received: ${JSON.stringify(text)}`));
        };
        waiters.add(check);
        check();
      });
    },
  };
}

function requestHead(path: string, headers: Record<string, string>, bodyLength: number): string {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: listings.example.com', `Content-Length: ${bodyLength}`, 'Expect: 100-continue'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

describe('Expect: 100-continue on the server made as the server process makes it', () => {
  const context = useAppOnRealRedis('continue', { TWENTY_WEBHOOK_SECRET: WEBHOOK_SECRET });
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createHttpServer(context.handle.handler, testConfig().server, context.handle.logger);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const tagsBody = JSON.stringify({ tags: ['listing:5'] });
  const webhookBody = twentyEvent('updated', '5', { updatedFields: ['description'] });

  it.each<[string, string, Record<string, string>]>([
    ['no bearer token', tagsBody, { 'Content-Type': 'application/json' }],
    ['a wrong bearer token', tagsBody, { 'Content-Type': 'application/json', Authorization: 'Bearer not-the-token-0123456789' }],
    ['Twenty signature headers with a stale timestamp', webhookBody, twentyHeaders(webhookBody, { timestamp: Date.now() - 3_600_000 })],
    ['Twenty signature headers without a nonce', webhookBody, { ...twentyHeaders(webhookBody), 'X-Twenty-Webhook-Nonce': '' }],
  ])('refuses %s with a 401 before any 100 Continue, without waiting for the body', async (_name, body, headers) => {
    const conversation = converse(port, requestHead(ENDPOINT, headers, Buffer.byteLength(body)));
    const answer = await conversation.until(/\r\n\r\n/);
    expect(answer.startsWith('HTTP/1.1 401 ')).toBe(true);
    await conversation.until(/\r\n\r\n[\s\S]*\}/);
    expect(conversation.received()).not.toContain('HTTP/1.1 100');
    conversation.socket.destroy();
  });

  it.each<[string, string, Record<string, string>]>([
    ['a good bearer token', tagsBody, { 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_TOKEN}` }],
    ['a genuine Twenty webhook', webhookBody, twentyHeaders(webhookBody)],
  ])('asks for the body of a request with %s (100 Continue), then answers 200 once it is sent', async (_name, body, headers) => {
    const conversation = converse(port, requestHead(ENDPOINT, headers, Buffer.byteLength(body)));
    expect(await conversation.until(/\r\n\r\n/)).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    conversation.socket.write(body);
    const answer = await conversation.until(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 \d{3} [\s\S]*\r\n\r\n[\s\S]*\}$/);
    expect(answer.slice('HTTP/1.1 100 Continue\r\n\r\n'.length)).toMatch(/^HTTP\/1\.1 200 /);
    conversation.socket.destroy();
  });

  it('sends one 100 Continue, not two, on a server that continues by itself (Node’s default, an embedding host)', async () => {
    const plain = createServer(context.handle.handler);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_TOKEN}` };
      const conversation = converse((plain.address() as AddressInfo).port, requestHead(ENDPOINT, headers, Buffer.byteLength(tagsBody)));
      await conversation.until(/100 Continue\r\n\r\n/);
      conversation.socket.write(tagsBody);
      const answer = await conversation.until(/\r\n\r\nHTTP\/1\.1 \d{3} [\s\S]*\r\n\r\n[\s\S]*\}$/);
      expect(answer.match(/HTTP\/1\.1 100 Continue/g)).toHaveLength(1);
      expect(answer).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
      conversation.socket.destroy();
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('tells a request to any other path to continue at once, as Node does by default', async () => {
    const conversation = converse(port, requestHead('/listings/5', { 'Content-Type': 'text/plain' }, 4));
    expect(await conversation.until(/\r\n\r\n/)).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    conversation.socket.destroy();
  });
});
