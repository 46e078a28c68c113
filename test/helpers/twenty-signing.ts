import { createHmac, randomBytes } from 'node:crypto';

export const WEBHOOK_SECRET = 'twenty-webhook-secret-0123456789';

/** The headers Twenty sends with a webhook that has a secret. */
export function twentyHeaders(body: string, options: { secret?: string; timestamp?: number; nonce?: string } = {}): Record<string, string> {
  const timestamp = String(options.timestamp ?? Date.now());
  const signature = createHmac('sha256', options.secret ?? WEBHOOK_SECRET)
    .update(`${timestamp}:${body}`)
    .digest('hex');
  return {
    'Content-Type': 'application/json',
    'X-Twenty-Webhook-Timestamp': timestamp,
    'X-Twenty-Webhook-Nonce': options.nonce ?? randomBytes(16).toString('hex'),
    'X-Twenty-Webhook-Signature': signature,
  };
}

/** A webhook body in Twenty's shape for a listing event. */
export function twentyEvent(action: string, id: string, extra: Record<string, unknown> = {}, object = 'listing'): string {
  return JSON.stringify({
    targetUrl: 'https://listings.example.com/api/cache/invalidate',
    eventName: `${object}.${action}`,
    objectMetadata: { id: '7c1e0a3e-1f5d-4a39-9c1e-5b2a7f0c9d11', nameSingular: object },
    workspaceId: '20202020-1c25-4d02-bf25-6aeccf7ea419',
    webhookId: '3b8c0f41-6a55-4c4a-8b4e-0a9b8f5e2d10',
    eventDate: new Date().toISOString(),
    record: { id, name: `Listing ${id}`, city: 'Lisbon', price: { amountMicros: 250000000000, currencyCode: 'EUR' } },
    ...extra,
  });
}
