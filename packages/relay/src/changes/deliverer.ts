/**
 * One webhook's deliveries. The relay holding the webhook's lease (storage
 * `acquireLease`, renewed every third of its lifetime) is its only deliverer in
 * the region: it follows the relay-wide change log from a persisted cursor,
 * marks matching documents pending, and delivers each pending document's
 * changes after its persisted delivery cursor, one delivery per document at a
 * time (order kept), debounced, retried with exponential backoff until the
 * retry budget is spent (then dead-lettered). The delivery cursor moves only
 * after the receiver answered 2xx, so a crash or takeover re-sends at most the
 * deliveries in flight: at least once, never lost.
 *
 * Persisted per webhook (storage `saveCursors`, consumer `webhook:<id>`):
 * `log` = the change-log cursor read so far, `doc:<name>` = that document's
 * state (delivery cursor, pending, dead letter).
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import type { Clock, ClockTimer } from '@meridian/base'
import { matchGlob } from '../glob.js'
import { isInternalDoc, type ChangeFeed } from './feed.js'
import { changeJson } from './routes.js'
import { backoffDelayMs, type ResolvedWebhook, type WebhookPost } from './webhook-options.js'
import { signatureHeaders } from './signature.js'

/** POSTs a delivery; resolves with the HTTP status, rejects on a network error or abort. */
export type { WebhookPost } from './webhook-options.js'

export interface DeadLetter {
  doc: string
  /** The delivery cursor: the first change not delivered is after it. */
  fromSeq: number
  attempts: number
  lastError: string
  atMs: number
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'dead_lettered'

/** One delivery attempt's end, told once its result is in the deliverer's state (status, metrics, stored cursors). */
export interface WebhookOutcome {
  webhook: string
  doc: string
  outcome: DeliveryOutcome
}

export interface DelivererDeps {
  webhook: ResolvedWebhook
  storage: StorageAdapter
  feed: ChangeFeed
  clock: Clock
  random: () => number
  logger: Logger
  nodeId: string
  region: string
  pollIntervalMs: number
  leaseTtlMs: number
  post: WebhookPost
  onOutcome: (event: WebhookOutcome) => void
}

interface DocEntry {
  delivered: number
  pending: boolean
  dead: DeadLetter | null
  attempts: number
  /** New changes were seen while a delivery was in flight. */
  dirty: boolean
  inFlight: boolean
  timer: ClockTimer | null
}

const LOG_PAGE = 500
const MAX_PAGES_PER_SCAN = 20

export class WebhookDeliverer {
  readonly consumer: string
  /** Unique per relay instance: a restarted relay waits for its predecessor's lease to lapse like any other. */
  readonly holder: string
  private readonly docs = new Map<string, DocEntry>()
  private readonly queue: string[] = []
  private readonly controllers = new Set<AbortController>()
  private readonly running = new Set<Promise<void>>()
  private logCursor: string | null = null
  private leader = false
  private lastRenewMs = Number.NEGATIVE_INFINITY
  private leaseTimer: ClockTimer | null = null
  private pollTimer: ClockTimer | null = null
  private scanning: Promise<void> | null = null
  private rescan = false
  private stopped = false
  private leaseCheck: Promise<void> | null = null

  constructor(private readonly d: DelivererDeps) {
    this.consumer = `webhook:${d.webhook.id}`
    this.holder = `${d.nodeId}/${randomUUID()}`
  }

  get isLeader(): boolean {
    return this.leader
  }

  /** Tries for the lease now and every third of its lifetime. */
  async start(): Promise<void> {
    await this.checkLease()
    if (this.stopped) return
    this.leaseTimer = this.d.clock.setInterval(() => {
      this.leaseCheck ??= this.checkLease().finally(() => {
        this.leaseCheck = null
      })
    }, Math.max(1, Math.floor(this.d.leaseTtlMs / 3)))
  }

  /** Stops delivering (deliveries in flight are cut off and will be sent again) and lets the lease go. */
  async stop(): Promise<void> {
    this.stopped = true
    this.d.clock.clearInterval(this.leaseTimer)
    await this.leaseCheck
    this.resign()
    await Promise.allSettled([...this.running])
    await this.scanning
    // Only ever lets go of our own lease (a no-op otherwise), including one taken while stopping.
    await this.d.storage.releaseLease?.(this.consumer, this.holder).catch((err: unknown) => this.d.logger.warn({ err, webhook: this.d.webhook.id }, 'webhook lease not released; it lapses'))
  }

  /** This relay committed a change to `doc`: read the log now rather than at the next poll. */
  wake(doc: string): void {
    if (this.leader && this.matches(doc)) this.scanSoon()
  }

  deadLetters(): DeadLetter[] {
    return [...this.docs.values()].flatMap((e) => (e.dead === null ? [] : [e.dead]))
  }

  get pendingCount(): number {
    let n = 0
    for (const e of this.docs.values()) if (e.pending && e.dead === null) n++
    return n
  }

  /** Clears the dead letters (of `doc`, or all) and delivers them again; resolves with how many. */
  async retryDeadLetters(doc?: string): Promise<number> {
    const names = [...this.docs.entries()].filter(([name, e]) => e.dead !== null && (doc === undefined || name === doc)).map(([name]) => name)
    for (const name of names) {
      const e = this.docs.get(name)
      if (e === undefined) continue
      e.dead = null
      e.attempts = 0
      e.pending = true
    }
    if (names.length > 0) await this.d.storage.saveCursors?.(this.consumer, Object.fromEntries(names.map((n) => [`doc:${n}`, this.encode(n)])))
    for (const name of names) this.schedule(name, 0)
    return names.length
  }

  private matches(doc: string): boolean {
    return !isInternalDoc(doc) && this.d.webhook.globs.some((g) => matchGlob(g, doc))
  }

  private async checkLease(): Promise<void> {
    if (this.stopped) return
    let held = false
    try {
      held = (await this.d.storage.acquireLease?.(this.consumer, this.holder, this.d.leaseTtlMs)) === true
    } catch (err) {
      this.d.logger.warn({ err, webhook: this.d.webhook.id }, 'webhook lease check failed')
    }
    if (this.stopped) return
    if (!held) {
      if (this.leader) this.d.logger.warn({ webhook: this.d.webhook.id }, 'webhook lease lost: another relay delivers')
      this.resign()
      return
    }
    this.lastRenewMs = this.d.clock.now()
    if (!this.leader) await this.lead()
  }

  private async lead(): Promise<void> {
    let stored: Record<string, string>
    try {
      stored = (await this.d.storage.loadCursors?.(this.consumer)) ?? {}
    } catch (err) {
      this.d.logger.warn({ err, webhook: this.d.webhook.id }, 'webhook cursors not loaded; retrying at the next lease check')
      return
    }
    if (this.stopped) return
    this.leader = true
    this.logCursor = stored.log ?? null
    for (const [key, value] of Object.entries(stored)) {
      if (!key.startsWith('doc:')) continue
      const entry = decode(key.slice(4), value)
      if (entry !== null) this.docs.set(key.slice(4), entry)
    }
    this.d.logger.info({ webhook: this.d.webhook.id, pending: this.pendingCount }, 'delivering webhook from this relay')
    for (const [name, e] of this.docs) if (e.pending && e.dead === null) this.schedule(name, 0)
    this.pollTimer = this.d.clock.setInterval(() => this.scanSoon(), this.d.pollIntervalMs)
    this.scanSoon()
  }

  /** Drops every in-memory state: the storage has what the next leader needs. */
  private resign(): void {
    this.leader = false
    this.d.clock.clearInterval(this.pollTimer)
    this.pollTimer = null
    for (const e of this.docs.values()) this.d.clock.clearTimeout(e.timer)
    this.docs.clear()
    this.queue.length = 0
    for (const c of this.controllers) c.abort()
  }

  private scanSoon(): void {
    if (this.scanning !== null) {
      this.rescan = true
      return
    }
    this.scanning = this.scan().catch((err: unknown) => {
      this.d.logger.warn({ err, webhook: this.d.webhook.id }, 'change log read failed; retrying at the next poll')
    }).finally(() => {
      this.scanning = null
      if (this.rescan && this.leader && !this.stopped) {
        this.rescan = false
        this.scanSoon()
      }
    })
  }

  private async scan(): Promise<void> {
    const { storage } = this.d
    if (storage.readChangeLog === undefined || storage.saveCursors === undefined) return
    for (let page = 0; page < MAX_PAGES_PER_SCAN && this.leader && !this.stopped; page++) {
      const entries = await storage.readChangeLog(this.logCursor, LOG_PAGE)
      const last = entries.at(-1)
      if (last === undefined || !this.leader) return
      const touched = new Set<string>()
      for (const e of entries) {
        if (!this.matches(e.doc)) continue
        let entry = this.docs.get(e.doc)
        if (entry === undefined) {
          entry = { delivered: 0, pending: false, dead: null, attempts: 0, dirty: false, inFlight: false, timer: null }
          this.docs.set(e.doc, entry)
        }
        entry.pending = true
        entry.dirty = true
        touched.add(e.doc)
      }
      const values: Record<string, string> = { log: last.cursor }
      for (const doc of touched) values[`doc:${doc}`] = this.encode(doc)
      await storage.saveCursors(this.consumer, values)
      this.logCursor = last.cursor
      for (const doc of touched) this.schedule(doc, this.d.webhook.debounceMs)
      if (entries.length < LOG_PAGE) return
    }
  }

  private schedule(doc: string, delayMs: number): void {
    const e = this.docs.get(doc)
    if (e === undefined || e.timer !== null || e.inFlight || e.dead !== null || !this.leader) return
    e.timer = this.d.clock.setTimeout(() => {
      e.timer = null
      this.queue.push(doc)
      this.pump()
    }, delayMs)
  }

  private pump(): void {
    while (this.running.size < this.d.webhook.concurrency && this.queue.length > 0 && this.leader) {
      const doc = this.queue.shift() as string
      const run: Promise<void> = this.deliver(doc).finally(() => {
        this.running.delete(run)
        this.pump()
      })
      this.running.add(run)
    }
  }

  /** A delivery may start only while the lease is surely ours until it ends (timeout included). */
  private leaseFresh(): boolean {
    return this.d.clock.now() + this.d.webhook.timeoutMs < this.lastRenewMs + (this.d.leaseTtlMs * 5) / 6
  }

  private async deliver(doc: string): Promise<void> {
    const e = this.docs.get(doc)
    if (e === undefined || e.dead !== null || e.inFlight || !this.leader) return
    if (!this.leaseFresh()) {
      this.schedule(doc, this.d.pollIntervalMs)
      return
    }
    const w = this.d.webhook
    e.inFlight = true
    e.dirty = false
    let more = false
    try {
      const page = await this.d.feed.readDoc(doc, e.delivered, w.maxChangesPerDelivery)
      if (page.changes.length === 0) {
        e.delivered = page.cursor
        e.pending = e.dirty
        await this.save(doc)
        return
      }
      const from = page.reset ? 0 : e.delivered
      const deliveryId = `${w.id}:${doc}:${from}-${page.cursor}`
      const body = JSON.stringify({
        webhook: w.id,
        deliveryId,
        doc,
        region: this.d.region,
        nodeId: this.d.nodeId,
        from,
        to: page.cursor,
        headSeq: page.headSeq,
        reset: page.reset,
        changes: page.changes.map((c) => changeJson(c))
      })
      const status = await this.post(body, deliveryId)
      if (status < 200 || status > 299) throw new Error(`the receiver answered HTTP ${status}`)
      if (!this.leader) return
      e.delivered = page.cursor
      e.attempts = 0
      more = page.cursor < page.headSeq
      e.pending = more || e.dirty
      await this.save(doc)
      this.outcome(doc, 'delivered')
    } catch (err) {
      if (!this.leader) return
      e.attempts++
      const message = err instanceof Error ? err.message : String(err)
      if (e.attempts >= w.maxAttempts) {
        e.dead = { doc, fromSeq: e.delivered, attempts: e.attempts, lastError: message, atMs: this.d.clock.now() }
        this.d.logger.error({ webhook: w.id, doc, attempts: e.attempts, err }, 'webhook delivery dead-lettered: POST /v1/webhooks/dead-letters/retry to try again')
        await this.save(doc).catch((saveErr: unknown) => this.d.logger.warn({ err: saveErr, webhook: w.id }, 'dead letter not stored'))
        this.outcome(doc, 'dead_lettered')
      } else {
        this.outcome(doc, 'failed')
        const delay = backoffDelayMs(e.attempts, w, this.d.random)
        this.d.logger.warn({ webhook: w.id, doc, attempt: e.attempts, retryInMs: delay, err: message }, 'webhook delivery failed; retrying')
        e.inFlight = false
        this.schedule(doc, delay)
        return
      }
    } finally {
      e.inFlight = false
      // Changes seen meanwhile, or more than one delivery holds (a no-op when a retry is scheduled).
      if (e.pending && this.leader) this.schedule(doc, more ? 0 : w.debounceMs)
    }
  }

  private outcome(doc: string, outcome: DeliveryOutcome): void {
    this.d.onOutcome({ webhook: this.d.webhook.id, doc, outcome })
  }

  private async post(body: string, deliveryId: string): Promise<number> {
    const w = this.d.webhook
    const controller = new AbortController()
    this.controllers.add(controller)
    const timer = this.d.clock.setTimeout(() => controller.abort(), w.timeoutMs)
    try {
      return await this.d.post(w.url, body, {
        'content-type': 'application/json',
        'meridian-webhook-id': w.id,
        'meridian-delivery-id': deliveryId,
        ...signatureHeaders(w.secret, body, this.d.clock.now())
      }, controller.signal)
    } finally {
      this.d.clock.clearTimeout(timer)
      this.controllers.delete(controller)
    }
  }

  private async save(doc: string): Promise<void> {
    await this.d.storage.saveCursors?.(this.consumer, { [`doc:${doc}`]: this.encode(doc) })
  }

  private encode(doc: string): string {
    const e = this.docs.get(doc)
    return JSON.stringify({ delivered: e?.delivered ?? 0, pending: e?.pending ?? false, dead: e?.dead ?? null })
  }
}

function decode(doc: string, value: string): DocEntry | null {
  try {
    const v = JSON.parse(value) as { delivered?: unknown; pending?: unknown; dead?: unknown }
    const delivered = typeof v.delivered === 'number' && Number.isSafeInteger(v.delivered) && v.delivered >= 0 ? v.delivered : 0
    const dead = v.dead !== null && typeof v.dead === 'object' ? { ...(v.dead as DeadLetter), doc } : null
    return { delivered, pending: v.pending === true, dead, attempts: 0, dirty: false, inFlight: false, timer: null }
  } catch {
    return null
  }
}

/** The default POST: fetch, the body as is, any answer's status. */
export const fetchPost: WebhookPost = async (url, body, headers, signal) => {
  const response = await fetch(url, { method: 'POST', body, headers, signal, redirect: 'manual' })
  // The body is not needed; reading it frees the connection.
  await response.arrayBuffer().catch(() => undefined)
  return response.status
}
