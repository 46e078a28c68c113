import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { effectsOfUpdate, type ChangeEffect } from './listing-changes';
import type { ListingFields } from './twenty-fields';
import type { TwentyObjectName } from './twenty-object';

export const TWENTY_ACTIONS = ['created', 'updated', 'deleted', 'destroyed', 'restored', 'upserted'] as const;
type TwentyAction = (typeof TWENTY_ACTIONS)[number];

const SIGNATURE = /^[0-9a-f]{64}$/;
const NONCE = /^[A-Za-z0-9_-]{8,128}$/;

export interface SignatureCheck {
  secret: string;
  toleranceMs: number;
  now?: number;
}

/**
 * Why a signed request's headers are refused (missing, malformed, a timestamp outside the
 * tolerance), checked before its body is read; undefined when they may be genuine.
 */
export function signatureHeaderProblem(headers: IncomingHttpHeaders, check: SignatureCheck): string | undefined {
  const signature = headers['x-twenty-webhook-signature'];
  const timestamp = headers['x-twenty-webhook-timestamp'];
  const nonce = headers['x-twenty-webhook-nonce'];
  if (typeof timestamp !== 'string') return 'missing X-Twenty-Webhook-Timestamp header';
  if (typeof nonce !== 'string') return 'missing X-Twenty-Webhook-Nonce header';
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) {
    return 'X-Twenty-Webhook-Signature must be 64 lowercase hex characters (HMAC-SHA256)';
  }
  if (!/^\d{1,16}$/.test(timestamp)) return 'X-Twenty-Webhook-Timestamp must be milliseconds since the epoch';
  if (!NONCE.test(nonce)) return 'X-Twenty-Webhook-Nonce must be 8 to 128 letters, digits, - or _';
  const skew = (check.now ?? Date.now()) - Number(timestamp);
  if (skew > check.toleranceMs) return `X-Twenty-Webhook-Timestamp is too old (more than ${check.toleranceMs / 1000} s)`;
  if (-skew > check.toleranceMs) return 'X-Twenty-Webhook-Timestamp is in the future';
  return undefined;
}

/** Why a signed request is refused, for the 401's error; undefined when it is genuine (a replay aside: see replayKey). */
export function signatureProblem(headers: IncomingHttpHeaders, rawBody: Buffer, check: SignatureCheck): string | undefined {
  const problem = signatureHeaderProblem(headers, check);
  if (problem) return problem;
  // Over the raw bytes as they arrived: a re-serialised object would not match Twenty's.
  const expected = createHmac('sha256', check.secret)
    .update(`${String(headers['x-twenty-webhook-timestamp'])}:`)
    .update(rawBody)
    .digest();
  if (!timingSafeEqual(expected, Buffer.from(String(headers['x-twenty-webhook-signature']), 'hex'))) return 'signature does not match';
  return undefined;
}

/**
 * What makes one delivery unique among those that pass the check: its signature, the HMAC of
 * timestamp and body. The nonce is not signed (anyone who saw a delivery could resend it with
 * new nonces), so replays are told by what is.
 */
export function replayKey(headers: IncomingHttpHeaders): string {
  return String(headers['x-twenty-webhook-signature']);
}

const payloadSchema = z.object({
  eventName: z.string().regex(/^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/, 'must be "<object>.<action>"'),
  objectMetadata: z.object({ nameSingular: z.string().optional() }).passthrough().optional(),
  record: z
    .object({
      // A tag names the id (`listing:{id}`, at most 200 characters): ids longer than any page's are refused.
      id: z.union([z.string().min(1).max(128), z.number()], { message: 'must be a string of 1 to 128 characters or a number' }),
    })
    .passthrough()
    .optional(),
  updatedFields: z.array(z.string().max(200)).max(500).optional(),
});

/** A listing change a webhook reports, or why the webhook is ignored or refused. */
export type TwentyEvent =
  | {
      kind: 'change';
      event: string;
      action: TwentyAction;
      id: string;
      /** The city after the change, by the field mapping. */
      city?: string;
      /** `address`: the Address field changed; a move or not, told by the city it was shown under (resolveCityEffects). */
      effects: (ChangeEffect | 'address')[];
    }
  | { kind: 'ignored'; reason: string; metadata?: boolean }
  | { kind: 'invalid'; error: string };

/** A city that fits in a tag; a longer one counts as unknown (the change then reaches every city). */
const MAX_CITY_LENGTH = 100;

function cityOf(record: Record<string, unknown>, fields: ListingFields): string | undefined {
  const [field, subfield] = fields.city.split('.') as [string, string | undefined];
  const value = record[field];
  const address = record[fields.address ?? ''] ?? record.address;
  const candidates = [
    subfield === undefined ? value : value && typeof value === 'object' ? (value as Record<string, unknown>)[subfield] : undefined,
    record.city,
    address && typeof address === 'object' ? (address as Record<string, unknown>).addressCity : undefined,
  ];
  const city = candidates.find((candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== '');
  return city !== undefined && city.length <= MAX_CITY_LENGTH ? city.trim() : undefined;
}

/** Reads Twenty's webhook body (eventName, objectMetadata, record, updatedFields). */
export function readTwentyEvent(body: unknown, listingObject: TwentyObjectName): TwentyEvent {
  // A webhook on all events also gets the workspace's metadata events (`metadata.<name>.<action>`).
  const eventName = (body as { eventName?: unknown } | null)?.eventName;
  if (typeof eventName === 'string' && eventName.startsWith('metadata.')) {
    return { kind: 'ignored', reason: `metadata event "${eventName.slice(0, 100)}"`, metadata: eventName.startsWith('metadata.fieldMetadata.') };
  }
  const parsed = payloadSchema.safeParse(body);
  if (!parsed.success) {
    return { kind: 'invalid', error: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ') };
  }
  const { record, updatedFields, objectMetadata } = parsed.data;
  const [eventObject, action] = parsed.data.eventName.split('.') as [string, string];
  // Twenty names the object itself; the event name's first part is the same singular.
  const object = typeof objectMetadata?.nameSingular === 'string' ? objectMetadata.nameSingular : eventObject;
  if (!listingObject.matches(object)) return { kind: 'ignored', reason: `event for object "${object}", not ${listingObject.describe()}` };
  if (!(TWENTY_ACTIONS as readonly string[]).includes(action)) return { kind: 'ignored', reason: `action "${action}" is not handled` };
  if (!record) return { kind: 'invalid', error: 'record: required for listing events' };
  const city = cityOf(record, listingObject.fields);
  const whole: ChangeEffect = city ? 'membership' : 'relocation';
  // An upsert may have created the record: its effects include membership.
  const effects =
    action === 'updated'
      ? effectsOfUpdate(updatedFields, listingObject.mapping)
      : action === 'upserted'
        ? [...new Set([whole, ...effectsOfUpdate(updatedFields, listingObject.mapping)])]
        : [whole];
  return { kind: 'change', event: parsed.data.eventName, action: action as TwentyAction, id: String(record.id), city, effects };
}
