import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTwentyStub, type TwentyStub, type TwentyStubOptions } from '../../tools/twenty-standin';
import { recordedWorkspace } from '../../tools/twenty-workspace';
import { IDS, MANIFEST, PROPERTY, SECRET, TARGETS, type ManifestEntry, type MetadataList, type RecordedRequest, type Step } from './twenty-requests';

/**
 * The stand-in against a real Twenty 2.21.0: every recording in test/fixtures/twenty-2.21/rest/
 * is replayed, in file order, on the recorded workspace brought to the state it was recorded in,
 * and the stand-in's answer is compared with Twenty's: status, Content-Type, no rate-limit
 * header, the body's shape (the same keys at every level, the same JSON types) and its values
 * (records, order, ids, cursors, counts, messages, codes), the webhooks it sends with
 * hooks/, and the rate limit's runs (30-, 31-).
 */

const FIXTURES = join(__dirname, '..', 'fixtures', 'twenty-2.21');
const API_KEY = 'recorded-workspace-api-key';
const START = Date.parse('2026-12-06T14:45:14.000Z');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Recording {
  status?: number;
  headers: Record<string, string>;
  body: Json;
}

/** A `.http` recording (status line, headers, body) or a body alone; a `.json` capture (06c-: JSON objects one after the other). */
function readRecording(file: string): Recording {
  const text = readFileSync(join(FIXTURES, 'rest', file), 'utf8');
  if (file.endsWith('.json')) return { headers: {}, body: parseConcatenated(text) };
  if (!text.startsWith('HTTP/')) return { headers: {}, body: JSON.parse(text) as Json };
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number((statusLine as string).split(' ')[1]), headers, body: JSON.parse(text.slice(split + 4)) as Json };
}

function parseConcatenated(text: string): Json {
  const values: Json[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') {
      if (depth === 0) start = i;
      depth += 1;
    } else if (char === '}' || char === ']') {
      depth -= 1;
      if (depth === 0) values.push(JSON.parse(text.slice(start, i + 1)) as Json);
    }
  }
  return values.length === 1 ? (values[0] as Json) : values;
}

const jsonType = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * Where `actual` has another shape than `expected`: other keys, other JSON types. An array's
 * elements each have the shape of one of the recorded array's elements (records with and
 * without a price, fields of every type).
 */
function shapeProblems(actual: unknown, expected: unknown, path = 'body'): string[] {
  if (jsonType(actual) !== jsonType(expected)) return [`${path}: ${jsonType(actual)} where Twenty has ${jsonType(expected)}`];
  if (Array.isArray(actual) && Array.isArray(expected)) {
    if (expected.length === 0) return actual.length === 0 ? [] : [`${path}: ${actual.length} elements where Twenty has none`];
    for (const [index, element] of actual.entries()) {
      const problems = expected.map((candidate) => shapeProblems(element, candidate, `${path}[${index}]`));
      if (!problems.some((found) => found.length === 0)) return problems.sort((a, b) => a.length - b.length)[0] as string[];
    }
    return [];
  }
  if (jsonType(actual) === 'object') {
    const [a, e] = [actual as Record<string, unknown>, expected as Record<string, unknown>];
    const missing = Object.keys(e).filter((key) => !(key in a));
    const extra = Object.keys(a).filter((key) => !(key in e));
    if (missing.length > 0 || extra.length > 0) return [`${path}: keys missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}`];
    return Object.keys(e).flatMap((key) => shapeProblems(a[key], e[key], `${path}.${key}`));
  }
  return [];
}

/** Where `actual`'s values differ from `expected`'s (the keys in `volatile` by JSON type only). */
function valueProblems(actual: unknown, expected: unknown, volatile: ReadonlySet<string>, path = 'body'): string[] {
  const key = path.slice(path.lastIndexOf('.') + 1);
  if (volatile.has(key)) return jsonType(actual) === jsonType(expected) ? [] : [`${path}: ${jsonType(actual)} where Twenty has ${jsonType(expected)}`];
  if (jsonType(actual) !== jsonType(expected))
    return [`${path}: ${JSON.stringify(actual)?.slice(0, 200)} where Twenty has ${JSON.stringify(expected)?.slice(0, 200)}`];
  if (Array.isArray(actual) && Array.isArray(expected)) {
    if (actual.length !== expected.length) return [`${path}: ${actual.length} elements where Twenty has ${expected.length}`];
    return actual.flatMap((element, index) => valueProblems(element, expected[index], volatile, `${path}[${index}]`));
  }
  if (jsonType(actual) === 'object') {
    const shape = shapeProblems(actual, expected, path);
    if (shape.length > 0 && Object.keys(actual as object).length !== Object.keys(expected as object).length) return shape;
    const [a, e] = [actual as Record<string, unknown>, expected as Record<string, unknown>];
    return [...shape, ...Object.keys(e).flatMap((name) => (name in a ? valueProblems(a[name], e[name], volatile, `${path}.${name}`) : []))];
  }
  return Object.is(actual, expected) ? [] : [`${path}: ${JSON.stringify(actual)} where Twenty has ${JSON.stringify(expected)}`];
}

/** The recorded companies (15-: the first 200 of 599 by id) and, after them by id, as many more of the same shape. */
function recordedCompanies(): Record<string, unknown>[] {
  const recorded = (readRecording('15-companies-limit-500.http').body as { data: { companies: Record<string, unknown>[] } }).data.companies;
  const more = Array.from({ length: 599 - recorded.length }, (_, index) => ({
    ...structuredClone(recorded[index % recorded.length] as Record<string, unknown>),
    id: `20202020-f${String(index).padStart(3, '0')}-4000-8000-${String(index).padStart(12, '0')}`,
    name: `Company ${index + 1}`,
  }));
  return [...structuredClone(recorded), ...more];
}

interface Receiver {
  url: string;
  received: { rawHeaders: string[]; body: string }[];
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const receiver = { url: '', received: [], server: undefined as unknown as Server } as Receiver;
  receiver.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.received.push({ rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
  return receiver;
}

const stop = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(stub: TwentyStub, request: RecordedRequest, rewrite: (text: string) => string = (text) => text): Promise<Answer> {
  const query = new URLSearchParams(request.query ?? []).toString();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (request.auth !== 'none') headers.Authorization = `Bearer ${request.auth === 'wrong' ? 'not-the-api-key' : API_KEY}`;
  if (request.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${stub.url}${request.path}${query ? `?${query}` : ''}`, {
    method: request.method,
    headers,
    body: request.body === undefined ? undefined : rewrite(JSON.stringify(request.body)),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const RATE_LIMIT_HEADERS = /^(retry-after|x-ratelimit-.*|ratelimit.*)$/i;
const rateLimitHeaders = (headers: Headers) => [...headers.keys()].filter((name) => RATE_LIMIT_HEADERS.test(name));

const files = readdirSync(join(FIXTURES, 'rest')).sort();

describe('the Twenty stand-in answers as the recorded Twenty 2.21.0', () => {
  let stub: TwentyStub;
  let clock = START;
  const receivers: Record<'hook' | 'listings', Receiver> = {} as Record<'hook' | 'listings', Receiver>;
  let deadUrl = '';
  /** The recorded webhook targets -> this run's. */
  let targets: [string, string][] = [];
  const toRun = (text: string) => targets.reduce((result, [recorded, run]) => result.split(recorded).join(run), text);
  const toRecorded = (text: string) => targets.reduce((result, [recorded, run]) => result.split(run).join(recorded), text);

  beforeAll(async () => {
    receivers.hook = await startReceiver();
    receivers.listings = await startReceiver();
    const dead = await startReceiver();
    deadUrl = `${dead.url}/dead`;
    await stop(dead.server);
    targets = [
      [TARGETS.hook, `${receivers.hook.url}/hook`],
      [TARGETS.listings, `${receivers.listings.url}/api/cache/invalidate`],
      [TARGETS.dead, deadUrl],
    ];
    const workspace = recordedWorkspace();
    stub = await startTwentyStub(workspace.records, {
      ...workspace,
      apiKey: API_KEY,
      clock: () => clock,
      otherObjects: [
        {
          plural: 'companies',
          singular: 'company',
          fields: { name: 'TEXT', domainName: 'LINKS', address: 'ADDRESS', linkedinLink: 'LINKS', annualRevenue: 'CURRENCY', accountOwnerId: 'UUID' },
          records: recordedCompanies(),
        },
      ],
    });
  });
  afterAll(async () => {
    await stub?.close();
    await Promise.all(Object.values(receivers).map((receiver) => stop(receiver.server)));
  });

  it('has a manifest entry for every recording, and no entry without one', () => {
    expect(files.filter((file) => !(file in MANIFEST))).toEqual([]);
    expect(Object.keys(MANIFEST).filter((file) => !files.includes(file))).toEqual([]);
    expect(files.length).toBe(58);
  });

  async function runStep(step: Step): Promise<void> {
    if (step.kind === 'safeMode') stub.webhookSafeMode = step.on;
    else if (step.kind === 'addField') {
      clock = Date.parse(step.at);
      stub.addField(step.name, { type: step.type, label: step.label });
    } else {
      clock = Date.parse(step.at);
      const answer = await send(stub, step);
      expect(answer.status).toBe(200);
    }
  }

  async function replay(file: string, entry: ManifestEntry): Promise<void> {
    for (const step of entry.before ?? []) await runStep(step);
    if (entry.at) clock = Date.parse(entry.at);
    const recorded = readRecording(file);
    const answer = await send(stub, entry.request, toRun);
    const body = JSON.parse(toRecorded(answer.text)) as Json;
    const problems: string[] = [];
    // A JSON capture of part of an answer (06b-, 06c-) was taken from a 200.
    const status = recorded.status ?? entry.status ?? 200;
    if (answer.status !== status) problems.push(`status ${answer.status} where Twenty answered ${status}`);
    if (recorded.headers['content-type'] && answer.headers.get('content-type') !== recorded.headers['content-type']) {
      problems.push(`Content-Type ${answer.headers.get('content-type')} where Twenty sent ${recorded.headers['content-type']}`);
    }
    problems.push(...rateLimitHeaders(answer.headers).map((name) => `header ${name}, which Twenty never sends`));
    if (entry.kind === 'extract') {
      problems.push(...valueProblems(entry.extract?.(body as unknown as MetadataList), recorded.body, new Set()));
    } else if (entry.exact) {
      problems.push(...shapeProblems(body, recorded.body));
      problems.push(...valueProblems(entry.exact(body as unknown as MetadataList), entry.exact(recorded.body as unknown as MetadataList), new Set()));
    } else {
      problems.push(...valueProblems(body, recorded.body, new Set(entry.volatile ?? [])));
    }
    expect({ file, problems: problems.slice(0, 12) }).toEqual({ file, problems: [] });
  }

  async function rateLimitRun(file: string, entry: ManifestEntry): Promise<void> {
    const workspace = recordedWorkspace();
    let now = START;
    const limited = await startTwentyStub(workspace.records, {
      ...workspace,
      rateLimit: { perSecond: 100, perMinute: 100 } as TwentyStubOptions['rateLimit'],
      clock: () => now,
    });
    try {
      if (entry.kind === 'ratelimit-headers') {
        const recorded = JSON.parse(readFileSync(join(FIXTURES, 'rest', file), 'utf8')) as Record<string, string>;
        expect(Object.keys(recorded).filter((name) => RATE_LIMIT_HEADERS.test(name))).toEqual([]);
        const first = await send(limited, entry.request);
        expect(first.status).toBe(200);
        expect(first.headers.get('content-type')).toBe(recorded['content-type']);
        expect(rateLimitHeaders(first.headers)).toEqual([]);
        return;
      }
      // Twenty admitted `i` queries, then refused the next at `t` ms after the first: one query every t/i ms.
      const run = JSON.parse(readFileSync(join(FIXTURES, 'rest', file), 'utf8')) as {
        i: number;
        t: number;
        status: number;
        headers: Record<string, string>;
        body: string;
      };
      const every = run.t / run.i;
      for (let query = 0; query < run.i; query += 1) {
        now = START + Math.round(query * every);
        expect({ query, status: (await send(limited, entry.request)).status }).toEqual({ query, status: 200 });
      }
      const lastAdmitted = now;
      now = START + run.t;
      const refused = await send(limited, entry.request);
      expect(refused.status).toBe(run.status);
      expect(refused.text).toBe(run.body);
      expect(refused.headers.get('content-type')).toBe(run.headers['content-type']);
      expect(rateLimitHeaders(refused.headers)).toEqual([]);
      // 100 tokens a minute: the next one 600 ms after the last admitted query, not before.
      now = lastAdmitted + 599;
      expect((await send(limited, entry.request)).status).toBe(429);
      now = lastAdmitted + 600;
      expect((await send(limited, entry.request)).status).toBe(200);
      expect((await send(limited, entry.request)).status).toBe(429);
      // The metadata API is not counted.
      expect((await send(limited, { method: 'GET', path: '/rest/metadata/objects' })).status).toBe(200);
    } finally {
      await limited.close();
    }
  }

  it.each(files.map((file) => [file]))('%s', async (file) => {
    const entry = MANIFEST[file] as ManifestEntry;
    if (entry.kind === 'ratelimit-headers' || entry.kind === 'ratelimit-refusal') await rateLimitRun(file, entry);
    else await replay(file, entry);
  });

  it("sends the replay's webhooks as Twenty sent hooks/: the same events, bodies and headers, each once", async () => {
    const hookFiles = readdirSync(join(FIXTURES, 'hooks')).sort();
    const recorded = hookFiles.map((name) => JSON.parse(readFileSync(join(FIXTURES, 'hooks', name), 'utf8')) as { rawHeaders: string[]; rawBody: string });
    await stub.waitForDeliveries(stub.deliveries.filter((delivery) => !delivery.skipped).length, 5000);
    // Deliveries to the capture's target (the first webhook); the safe-mode patch (41-) sent none.
    const received = receivers.hook.received.map((delivery) => ({ ...delivery, body: toRecorded(delivery.body) }));
    expect(received).toHaveLength(recorded.length);
    expect(stub.deliveries.find((delivery) => delivery.skipped)?.eventName).toBe('property.updated');
    const unmatched = [...received];
    for (const [index, hook] of recorded.entries()) {
      const expected = JSON.parse(hook.rawBody) as Record<string, Json>;
      const at = unmatched.findIndex((delivery) => (JSON.parse(delivery.body) as Record<string, Json>).eventName === expected.eventName);
      expect({ hook: hookFiles[index], found: at >= 0 }).toEqual({ hook: hookFiles[index], found: true });
      const [delivery] = unmatched.splice(at, 1) as [Receiver['received'][number]];
      const body = JSON.parse(delivery.body) as Record<string, Json>;
      const names = (raw: string[]) => raw.filter((_, position) => position % 2 === 0);
      const problems = [
        ...(JSON.stringify(names(delivery.rawHeaders)) === JSON.stringify(names(hook.rawHeaders))
          ? []
          : [`headers ${JSON.stringify(names(delivery.rawHeaders))} where Twenty sent ${JSON.stringify(names(hook.rawHeaders))}`]),
        ...(String(expected.eventName).startsWith('metadata.') ? shapeProblems(body, expected) : valueProblems(body, expected, new Set(['eventDate']))),
      ];
      expect({ hook: hookFiles[index], problems }).toEqual({ hook: hookFiles[index], problems: [] });
      const header = (raw: string[], name: string) => raw[raw.findIndex((value, position) => position % 2 === 0 && value.toLowerCase() === name) + 1];
      expect(header(delivery.rawHeaders, 'user-agent')).toBe(header(hook.rawHeaders, 'user-agent'));
      expect(header(delivery.rawHeaders, 'x-twenty-webhook-nonce')).toMatch(/^[0-9a-f]{32}$/);
    }
    // The dead target's deliveries failed once each, and nothing was retried.
    const dead = stub.deliveries.filter((delivery) => delivery.webhookId === IDS.deadWebhook);
    expect(dead.map((delivery) => [delivery.eventName, delivery.status, typeof delivery.error])).toEqual([['property.updated', undefined, 'string']]);
    expect(receivers.listings.received.length).toBe(stub.deliveries.filter((delivery) => delivery.webhookId === IDS.listingsWebhook).length);
  });

  it('refuses the same queries with the same messages when ids are not the recorded ones', async () => {
    // A raw id, garbage, or base64 that is not JSON: all "Invalid cursor".
    for (const cursor of [IDS.gaia29, 'garbage', Buffer.from('not json').toString('base64')]) {
      const answer = await send(stub, { method: 'GET', path: PROPERTY, query: [['starting_after', cursor]] });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.text)).toEqual({ statusCode: 400, error: 'BadRequestException', messages: [`Invalid cursor: ${cursor}`] });
    }
    expect((await send(stub, { method: 'GET', path: `${PROPERTY}/${IDS.created}`, query: [] })).status).toBe(404);
  });
});

describe('paging past null sort values', () => {
  const pageAll = async (stub: TwentyStub, orderBy: string, limit: number) => {
    const ids: string[] = [];
    let after: string | undefined;
    for (let calls = 0; calls < 20; calls += 1) {
      const query: [string, string][] = [
        ['limit', String(limit)],
        ['order_by', orderBy],
      ];
      if (after) query.push(['starting_after', after]);
      const answer = JSON.parse((await send(stub, { method: 'GET', path: PROPERTY, query })).text) as {
        data: { properties: { id: string }[] };
        totalCount: number;
        pageInfo: { endCursor: string | null; hasNextPage: boolean };
      };
      ids.push(...answer.data.properties.map((record) => record.id));
      if (!answer.pageInfo.hasNextPage || !answer.pageInfo.endCursor) return { ids, totalCount: answer.totalCount };
      after = answer.pageInfo.endCursor;
    }
    throw new Error('more than 20 pages');
  };
  const nullPriced = ['2f487cd1-5ed7-4e73-bee3-a95edbb9438c', '471bc999-85a2-4225-b079-92058afde107'];

  it('2.21 never reaches them with starting_after (NullsLast), and after a page of nulls reaches nothing (NullsFirst)', async () => {
    const workspace = recordedWorkspace();
    const stub = await startTwentyStub(workspace.records, workspace);
    try {
      const last = await pageAll(stub, 'price.amountMicros[AscNullsLast]', 7);
      expect(last.totalCount).toBe(30);
      expect(last.ids).toHaveLength(28);
      expect(last.ids.filter((id) => nullPriced.includes(id))).toEqual([]);
      const first = await pageAll(stub, 'price.amountMicros[AscNullsFirst]', 2);
      expect(first.ids).toEqual(nullPriced);
      // What the listings server asks for instead: the null-priced records by themselves, by id.
      const nulls = await send(stub, {
        method: 'GET',
        path: PROPERTY,
        query: [
          ['filter', 'price.amountMicros[is]:NULL'],
          ['order_by', 'id[AscNullsFirst]'],
        ],
      });
      expect((JSON.parse(nulls.text) as { data: { properties: { id: string }[] } }).data.properties.map((record) => record.id)).toEqual(nullPriced);
      const both = await send(stub, {
        method: 'GET',
        path: PROPERTY,
        query: [['filter', 'and(price.amountMicros[is]:NULL,addressCustom.addressCity[ilike]:"coimbra")']],
      });
      expect((JSON.parse(both.text) as { totalCount: number }).totalCount).toBe(1);
    } finally {
      await stub.close();
    }
  });

  it('later Twenty (version latest) pages them where NullsLast and NullsFirst put them', async () => {
    const workspace = recordedWorkspace();
    const stub = await startTwentyStub(workspace.records, { ...workspace, version: 'latest' });
    try {
      const last = await pageAll(stub, 'price.amountMicros[AscNullsLast]', 7);
      expect(last.ids).toHaveLength(30);
      expect(last.ids.slice(-2)).toEqual(nullPriced);
      const first = await pageAll(stub, 'price.amountMicros[DescNullsFirst]', 2);
      expect(first.ids).toHaveLength(30);
      expect(first.ids.slice(0, 2)).toEqual(nullPriced);
      expect(new Set(first.ids).size).toBe(30);
    } finally {
      await stub.close();
    }
  });
});

describe('the rate limit in real time', () => {
  it('refuses the 101st query of a burst and admits one 600 ms after the last admitted one', async () => {
    const workspace = recordedWorkspace();
    const stub = await startTwentyStub(workspace.records, { ...workspace, rateLimit: { perMinute: 100 } });
    try {
      const request: RecordedRequest = { method: 'GET', path: `${PROPERTY}/${IDS.gaia29}` };
      for (let query = 0; query < 100; query += 1) expect((await send(stub, request)).status).toBe(200);
      const admittedAt = Date.now();
      const refused = await send(stub, request);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text)).toEqual({ statusCode: 429, error: 'HttpException', messages: ['Limit reached (100 tokens per 60000 ms)'] });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, admittedAt + 650 - Date.now())));
      expect((await send(stub, request)).status).toBe(200);
      expect((await send(stub, request)).status).toBe(429);
    } finally {
      await stub.close();
    }
  });
});

describe('webhooks of the stand-in', () => {
  it('go to every webhook whose operations match, once, and a dead target changes nothing', async () => {
    const workspace = recordedWorkspace();
    const receiver = await startReceiver();
    const stub = await startTwentyStub(workspace.records, {
      ...workspace,
      webhooks: [
        { targetUrl: `${receiver.url}/all`, operations: ['*.*'], secret: SECRET },
        { targetUrl: `${receiver.url}/updates`, operations: ['property.updated'], secret: SECRET },
        { targetUrl: `${receiver.url}/companies`, operations: ['company.*'], secret: SECRET },
        { targetUrl: 'http://127.0.0.1:9/dead', operations: ['property.*'], secret: SECRET },
      ],
    });
    try {
      const patched = await send(stub, { method: 'PATCH', path: `${PROPERTY}/${IDS.gaia29}`, body: { name: 'Renamed' } });
      expect(patched.status).toBe(200);
      const deliveries = await stub.waitForDeliveries(3);
      expect(deliveries.map((delivery) => delivery.targetUrl).sort()).toEqual([`${receiver.url}/all`, `${receiver.url}/updates`, 'http://127.0.0.1:9/dead']);
      expect(receiver.received).toHaveLength(2);
      const body = JSON.parse(receiver.received[0]?.body ?? '{}') as { record: { name: string; searchVector: string }; updatedFields: string[] };
      expect(body.updatedFields).toEqual(['name']);
      expect(body.record).toMatchObject({ name: 'Renamed', searchVector: "'renamed':1" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stub.deliveries).toHaveLength(3);
    } finally {
      await stub.close();
      await stop(receiver.server);
    }
  });
});

describe("the stand-in's options beyond the recorded workspace", () => {
  it("pages the metadata API: a client finds its object among Twenty's standard ones, on a later page", async () => {
    const stub = await startTwentyStub([], { metadataPageSize: 5 });
    try {
      const pages: { plurals: string[]; totalCount: number }[] = [];
      let after: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const answer = JSON.parse(
          (await send(stub, { method: 'GET', path: '/rest/metadata/objects', query: after ? [['starting_after', after]] : [] })).text,
        ) as MetadataList & {
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
        pages.push({ plurals: answer.data.objects.map((object) => String(object.namePlural)), totalCount: answer.totalCount });
        if (!answer.pageInfo.hasNextPage || !answer.pageInfo.endCursor) break;
        after = answer.pageInfo.endCursor;
      }
      expect(pages.map((page) => page.plurals.length)).toEqual([5, 5, 5, 5, 5, 4]);
      expect(pages[0]?.totalCount).toBe(29);
      expect(pages.findIndex((page) => page.plurals.includes('listings'))).toBeGreaterThan(0);
      expect(pages.flatMap((page) => page.plurals)).toEqual(expect.arrayContaining(['companies', 'people', 'opportunities', 'listings']));
    } finally {
      await stub.close();
    }
  });

  it('checks ids as UUIDs only where the records have UUID ids (or uuidIds says so), and the API key only when given', async () => {
    const loose = await startTwentyStub([{ id: 'l-1', name: 'One', deletedAt: null }]);
    const strict = await startTwentyStub([{ id: 'l-1', name: 'One', deletedAt: null }], { uuidIds: true, apiKey: 'the-key' });
    try {
      expect((await send(loose, { method: 'GET', path: '/rest/listings/nope' })).status).toBe(404);
      expect((await send(loose, { method: 'GET', path: '/rest/listings/l-1' })).status).toBe(200);
      const malformed = await fetch(`${strict.url}/rest/listings/nope`, { headers: { Authorization: 'Bearer the-key' } });
      expect([malformed.status, await malformed.json()]).toEqual([
        400,
        { statusCode: 400, error: 'BadRequestException', messages: ["'nope' is not a valid UUID"] },
      ]);
      expect((await send(strict, { method: 'GET', path: '/rest/listings', auth: 'key' })).status).toBe(401);
      expect((await send(loose, { method: 'GET', path: '/rest/listings', auth: 'none' })).status).toBe(403);
    } finally {
      await loose.close();
      await strict.close();
    }
  });
});
