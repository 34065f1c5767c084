/**
 * Webhook signatures: `Meridian-Signature: v1=<hex>` where hex is
 * HMAC-SHA256(secret, `${timestamp}.${body}`) and timestamp is the
 * `Meridian-Timestamp` header (Unix seconds). Binding the timestamp stops a
 * replay of an old delivery; receivers check it is recent (README, "Webhooks").
 */
import { createHmac } from 'node:crypto'

export const SIGNATURE_VERSION = 'v1'

export function signatureHeaders(secret: string, body: string, nowMs: number): { 'meridian-timestamp': string; 'meridian-signature': string } {
  const timestamp = String(Math.floor(nowMs / 1000))
  const hex = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return { 'meridian-timestamp': timestamp, 'meridian-signature': `${SIGNATURE_VERSION}=${hex}` }
}
