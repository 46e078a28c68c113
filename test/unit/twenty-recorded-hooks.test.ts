import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TwentyObjectName } from '../../server/listings/twenty-object';
import { readTwentyEvent, signatureProblem } from '../../server/listings/twenty-webhook';
import { startTwentyStub } from '../../tools/twenty-standin';
import { RECORDED_WEBHOOK_SECRET, recordedWorkspace } from '../../tools/twenty-workspace';

/**
 * The webhook verifier and reader against the deliveries a real Twenty 2.21.0 sent
 * (test/fixtures/twenty-2.21/hooks/), and against the stand-in's own deliveries.
 */

const HOOKS = join(__dirname, '..', 'fixtures', 'twenty-2.21', 'hooks');
const TOLERANCE_MS = 5 * 60_000;

interface Delivery {
  name: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  timestamp: number;
}

/** Raw header pairs as Node's server gives them to the app (lowercase names). */
function headersOf(rawHeaders: string[]): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1];
  return headers;
}

const recorded: Delivery[] = readdirSync(HOOKS)
  .sort()
  .map((name) => {
    const capture = JSON.parse(readFileSync(join(HOOKS, name), 'utf8')) as { rawHeaders: string[]; rawBody: string };
    const headers = headersOf(capture.rawHeaders);
    return { name, headers, rawBody: Buffer.from(capture.rawBody, 'utf8'), timestamp: Number(headers['x-twenty-webhook-timestamp']) };
  });

const check = (delivery: Delivery, secret = RECORDED_WEBHOOK_SECRET, now = delivery.timestamp) =>
  signatureProblem(delivery.headers, delivery.rawBody, { secret, toleranceMs: TOLERANCE_MS, now });

const property = () => new TwentyObjectName('properties', 'property');

describe("Twenty 2.21's recorded webhook deliveries", () => {
  it('are all there: record and metadata events', () => {
    expect(recorded.length).toBe(14);
    expect(recorded.filter((delivery) => delivery.name.includes('-property.')).length).toBe(8);
  });

  it.each(recorded.map((delivery) => [delivery.name, delivery]))('%s passes the verifier at its own time', (_name, delivery) => {
    expect(check(delivery)).toBeUndefined();
    // Anywhere within the tolerance.
    expect(check(delivery, RECORDED_WEBHOOK_SECRET, delivery.timestamp + TOLERANCE_MS)).toBeUndefined();
    expect(check(delivery, RECORDED_WEBHOOK_SECRET, delivery.timestamp - TOLERANCE_MS)).toBeUndefined();
  });

  it.each(recorded.map((delivery) => [delivery.name, delivery]))(
    '%s is refused with a byte of its body changed, another secret, or outside the tolerance',
    (_name, delivery) => {
      for (const at of [0, Math.floor(delivery.rawBody.length / 2), delivery.rawBody.length - 1]) {
        const changed = Buffer.from(delivery.rawBody);
        changed[at] = (changed[at] as number) ^ 0x01;
        expect(signatureProblem(delivery.headers, changed, { secret: RECORDED_WEBHOOK_SECRET, toleranceMs: TOLERANCE_MS, now: delivery.timestamp })).toBe(
          'signature does not match',
        );
      }
      expect(check(delivery, 'whsec_another_secret_0123456789abcd')).toBe('signature does not match');
      expect(check(delivery, RECORDED_WEBHOOK_SECRET, delivery.timestamp + TOLERANCE_MS + 1)).toMatch(/too old/);
      expect(check(delivery, RECORDED_WEBHOOK_SECRET, delivery.timestamp - TOLERANCE_MS - 1)).toMatch(/in the future/);
      // The nonce is not signed: another nonce still verifies (replays are told by the signature).
      expect(
        signatureProblem({ ...delivery.headers, 'x-twenty-webhook-nonce': 'a'.repeat(32) }, delivery.rawBody, {
          secret: RECORDED_WEBHOOK_SECRET,
          toleranceMs: TOLERANCE_MS,
          now: delivery.timestamp,
        }),
      ).toBeUndefined();
    },
  );

  it.each(recorded.map((delivery) => [delivery.name, delivery]))(
    '%s is read as a change of the property object, or ignored as a metadata event',
    (name, delivery) => {
      const body = JSON.parse(delivery.rawBody.toString('utf8')) as { eventName: string; record?: { id: string } };
      const event = readTwentyEvent(body, property());
      if (name.includes('-metadata.')) {
        expect(event).toMatchObject({ kind: 'ignored' });
        return;
      }
      expect(event).toMatchObject({ kind: 'change', event: body.eventName, action: body.eventName.split('.')[1], id: body.record?.id });
    },
  );
});

describe("the stand-in's webhook deliveries", () => {
  it('pass the same verifier and are read as the same events', async () => {
    const received: Delivery[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          name: req.url ?? '',
          headers: req.headers,
          rawBody: Buffer.concat(chunks),
          timestamp: Number(req.headers['x-twenty-webhook-timestamp']),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const workspace = recordedWorkspace();
    const stub = await startTwentyStub(workspace.records, {
      ...workspace,
      webhooks: [{ targetUrl: target, operations: ['*.*'], secret: RECORDED_WEBHOOK_SECRET }],
    });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${stub.url}${path}`, {
        method,
        headers: { Authorization: 'Bearer key', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((response) => response.status);
    try {
      const id = '0b5e2f7a-3c1d-4e8f-9a6b-7c2d1e0f4a5b';
      expect(await call('POST', '/rest/properties', { id, name: 'Stand-in flat', addressCustom: { addressCity: 'Porto' } })).toBe(201);
      expect(await call('PATCH', `/rest/properties/${id}`, { bedrooms: 3 })).toBe(200);
      expect(await call('DELETE', `/rest/properties/${id}?soft_delete=true`)).toBe(200);
      expect(await call('POST', '/graphql', { query: `mutation { restoreProperty(id: "${id}") { id deletedAt } }` })).toBe(200);
      expect(await call('DELETE', `/rest/properties/${id}`)).toBe(200);
      stub.addField('agentNotes', { type: 'TEXT', label: 'Agent notes' });
      await stub.waitForDeliveries(8);
      expect(stub.deliveries.map((delivery) => delivery.status)).toEqual(Array(8).fill(200));
      expect(received).toHaveLength(8);
      const actions: string[] = [];
      for (const delivery of received) {
        expect(check(delivery)).toBeUndefined();
        expect(signatureProblem(delivery.headers, delivery.rawBody, { secret: RECORDED_WEBHOOK_SECRET, toleranceMs: TOLERANCE_MS })).toBeUndefined();
        expect(check(delivery, 'whsec_another_secret_0123456789abcd')).toBe('signature does not match');
        const event = readTwentyEvent(JSON.parse(delivery.rawBody.toString('utf8')), property());
        if (event.kind === 'change') {
          expect(event.id).toBe(id);
          actions.push(event.action);
        } else expect(event.kind).toBe('ignored');
      }
      expect(actions).toEqual(['created', 'updated', 'deleted', 'restored', 'destroyed']);
    } finally {
      await stub.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
  });
});
