/**
 * Webhook configuration (relay option `webhooks`, CLI `--webhook`): where to
 * POST, which documents, the signing secret, and the delivery timing.
 */
import { createHash } from 'node:crypto'
import { compileGlob, type CompiledGlob } from '../glob.js'
import { RelayError } from '../errors.js'

export interface WebhookOptions {
  /** http:// or https:// URL the deliveries are POSTed to. */
  url: string
  /** HMAC-SHA256 key of the `Meridian-Signature` header; at least 16 characters. */
  secret: string
  /** Document-name globs (glob.ts); default every document (`**`). */
  docs?: string[]
  /** Names the webhook in cursors, the lease, metrics and status; default derived from url and docs. */
  id?: string
  /** Changes to one document within this window go out in one delivery. */
  debounceMs?: number
  /** Failed attempts in a row before a document's deliveries are dead-lettered. */
  maxAttempts?: number
  /** Delay after the first failure; doubled after each one, up to `maxBackoffMs` (with jitter). */
  initialBackoffMs?: number
  maxBackoffMs?: number
  /** A receiver that has not answered after this long failed the attempt; default 10 s (at most a third of the lease). */
  timeoutMs?: number
  /** Most changes in one delivery (the rest follow right after). */
  maxChangesPerDelivery?: number
  /** Most documents delivered at once. */
  concurrency?: number
}

export interface WebhookTimingOptions {
  /** How often the webhook's leader reads the change log for changes committed by other relays. */
  pollIntervalMs?: number
  /** Lifetime of the leader's lease; renewed every third of it. */
  leaseTtlMs?: number
}

export interface ResolvedWebhook {
  id: string
  url: string
  secret: string
  docs: string[]
  globs: CompiledGlob[]
  debounceMs: number
  maxAttempts: number
  initialBackoffMs: number
  maxBackoffMs: number
  timeoutMs: number
  maxChangesPerDelivery: number
  concurrency: number
}

export const DEFAULT_WEBHOOK_OPTIONS = {
  docs: ['**'],
  debounceMs: 1_000,
  // With the backoff below, 40 attempts span about 1.3 to 2.6 hours: a receiver down for an hour loses nothing.
  maxAttempts: 40,
  initialBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  timeoutMs: 10_000,
  maxChangesPerDelivery: 100,
  concurrency: 4
} as const

export const DEFAULT_WEBHOOK_TIMING = { pollIntervalMs: 500, leaseTtlMs: 30_000 } as const

const fail = (message: string): RelayError => new RelayError('ERR_RELAY_OPTIONS', `webhooks: ${message}`)

const int = (name: string, value: unknown, min: number, max: number): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw fail(`${name} must be an integer from ${min} to ${max}`)
  return value
}

export function resolveWebhooks(list: readonly WebhookOptions[] | undefined, timing: WebhookTimingOptions = {}): { webhooks: ResolvedWebhook[]; pollIntervalMs: number; leaseTtlMs: number } {
  const pollIntervalMs = int('pollIntervalMs', timing.pollIntervalMs ?? DEFAULT_WEBHOOK_TIMING.pollIntervalMs, 10, 60_000)
  const leaseTtlMs = int('leaseTtlMs', timing.leaseTtlMs ?? DEFAULT_WEBHOOK_TIMING.leaseTtlMs, 300, 3_600_000)
  if (list === undefined) return { webhooks: [], pollIntervalMs, leaseTtlMs }
  if (!Array.isArray(list)) throw fail('must be an array')
  const ids = new Set<string>()
  const webhooks = list.map((w, i): ResolvedWebhook => {
    if (w === null || typeof w !== 'object') throw fail(`entry ${i} must be an object`)
    let url: URL
    try {
      url = new URL(w.url)
    } catch {
      throw fail(`entry ${i}: url must be an http(s) URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail(`entry ${i}: url must be an http(s) URL`)
    if (typeof w.secret !== 'string' || w.secret.length < 16) throw fail(`entry ${i}: secret must be at least 16 characters`)
    const docs = w.docs ?? [...DEFAULT_WEBHOOK_OPTIONS.docs]
    if (!Array.isArray(docs) || docs.length === 0 || docs.length > 64) throw fail(`entry ${i}: docs must list 1 to 64 globs`)
    let globs: CompiledGlob[]
    try {
      globs = docs.map((d) => compileGlob(d))
    } catch (cause) {
      throw fail(`entry ${i}: ${(cause as Error).message}`)
    }
    const id = w.id ?? createHash('sha256').update(`${url.toString()}\n${docs.join('\n')}`).digest('hex').slice(0, 12)
    if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw fail(`entry ${i}: id must be 1 to 64 letters, digits, '_', '.' or '-'`)
    if (ids.has(id)) throw fail(`two webhooks have the id ${id}`)
    ids.add(id)
    const d = DEFAULT_WEBHOOK_OPTIONS
    const resolved: ResolvedWebhook = {
      id,
      url: url.toString(),
      secret: w.secret,
      docs: [...docs],
      globs,
      debounceMs: int('debounceMs', w.debounceMs ?? d.debounceMs, 0, 3_600_000),
      maxAttempts: int('maxAttempts', w.maxAttempts ?? d.maxAttempts, 1, 1000),
      initialBackoffMs: int('initialBackoffMs', w.initialBackoffMs ?? d.initialBackoffMs, 1, 3_600_000),
      maxBackoffMs: int('maxBackoffMs', w.maxBackoffMs ?? d.maxBackoffMs, 1, 86_400_000),
      timeoutMs: int('timeoutMs', w.timeoutMs ?? Math.min(d.timeoutMs, Math.floor(leaseTtlMs / 3)), 10, 600_000),
      maxChangesPerDelivery: int('maxChangesPerDelivery', w.maxChangesPerDelivery ?? d.maxChangesPerDelivery, 1, 1000),
      concurrency: int('concurrency', w.concurrency ?? d.concurrency, 1, 64)
    }
    // A delivery must end (or be cut off) well within the lease, so that no other relay
    // can take over while it is still in flight (see deliverer.ts).
    if (resolved.timeoutMs * 3 > leaseTtlMs) throw fail(`entry ${i}: timeoutMs must be at most a third of leaseTtlMs (${leaseTtlMs})`)
    return resolved
  })
  return { webhooks, pollIntervalMs, leaseTtlMs }
}

/**
 * Delay before retry number `attempt` (1 = after the first failure):
 * initial × 2^(attempt−1), capped, then scaled into [½, 1] by `random` so
 * that many documents failing together do not retry in lockstep.
 */
export function backoffDelayMs(attempt: number, w: Pick<ResolvedWebhook, 'initialBackoffMs' | 'maxBackoffMs'>, random: () => number): number {
  const exp = Math.min(w.maxBackoffMs, w.initialBackoffMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40))
  return Math.max(1, Math.round(exp * (0.5 + 0.5 * random())))
}

/** Sends one delivery; resolves with the receiver's HTTP status. */
export type WebhookPost = (url: string, body: string, headers: Record<string, string>, signal: AbortSignal) => Promise<number>

/** The relay's `changeFeed` option: webhook timing, and how deliveries are sent. */
export interface ChangeFeedOptions extends WebhookTimingOptions {
  /** How webhook deliveries are POSTed; default fetch. Tests pass their own. */
  webhookPost?: WebhookPost
}
