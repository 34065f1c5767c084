/**
 * The change feed and webhooks, attached to a relay by buildRelay: the feed
 * routes (routes.ts), one deliverer per configured webhook (deliverer.ts),
 * their metrics, the `webhooks` status section and
 * `POST /v1/webhooks/dead-letters/retry`. Lifecycle: `start()` when the relay
 * is built, `closeStreams()` before the HTTP server closes (SSE streams would
 * hold it open), `stop()` before the storage is let go.
 */
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge } from 'prom-client'
import type { ResolvedRelayOptions } from '../options.js'
import type { RoomManager } from '../rooms.js'
import type { RelayMetrics } from '../metrics.js'
import type { StatusProvider } from '../status.js'
import { RelayError } from '../errors.js'
import { ChangeFeed } from './feed.js'
import { registerChangeRoutes } from './routes.js'
import { WebhookDeliverer, fetchPost, type WebhookOutcome } from './deliverer.js'
import { ListenerSet } from '../listener-set.js'
import { resolveWebhooks } from './webhook-options.js'

export type { WebhookOptions, WebhookTimingOptions } from './webhook-options.js'
export type { WebhookPost, DeadLetter, DeliveryOutcome, WebhookOutcome } from './deliverer.js'

/** Relay option `changeFeed`. */
export type { ChangeFeedOptions } from './webhook-options.js'

export interface ChangeFeedDeps {
  app: FastifyInstance
  options: ResolvedRelayOptions
  rooms: RoomManager
  metrics: RelayMetrics
  registerStatus: (name: string, provider: StatusProvider) => unknown
}

export class ChangeFeedService {
  readonly feed: ChangeFeed
  readonly deliverers: WebhookDeliverer[]
  private readonly outcomes: ListenerSet<WebhookOutcome>

  constructor(private readonly deps: ChangeFeedDeps) {
    const { options, metrics } = deps
    this.outcomes = new ListenerSet((err) => options.logger.error({ err }, 'webhook outcome listener threw'))
    const timing = options.changeFeed
    const { webhooks, pollIntervalMs, leaseTtlMs } = resolveWebhooks(options.webhooks, timing)
    const s = options.storage
    if (webhooks.length > 0 && (s.readChangeLog === undefined || s.readChanges === undefined || s.saveCursors === undefined || s.loadCursors === undefined || s.acquireLease === undefined)) {
      throw new RelayError('ERR_RELAY_OPTIONS', 'webhooks need a storage with the change feed (memory, SQLite or PostgreSQL adapters)')
    }
    this.feed = new ChangeFeed({ storage: s, clock: options.clock, pollIntervalMs })
    const deliveries = new Counter({
      name: 'meridian_relay_webhook_deliveries_total',
      help: 'Webhook delivery attempts by this relay, by webhook id and outcome (delivered, failed, dead_lettered).',
      labelNames: ['webhook', 'outcome'],
      registers: [metrics.registry]
    })
    this.deliverers = webhooks.map((webhook) => new WebhookDeliverer({
      webhook,
      storage: s,
      feed: this.feed,
      clock: options.clock,
      random: options.random,
      logger: options.logger,
      nodeId: options.nodeId,
      region: options.region,
      pollIntervalMs,
      leaseTtlMs,
      post: timing.webhookPost ?? fetchPost,
      onOutcome: (event) => {
        deliveries.inc({ webhook: event.webhook, outcome: event.outcome })
        this.outcomes.emit(event)
      }
    }))
    const perWebhook = (name: string, help: string, read: (d: WebhookDeliverer) => number): void => {
      const deliverers = this.deliverers
      new Gauge({
        name,
        help,
        labelNames: ['webhook'],
        registers: [metrics.registry],
        collect() {
          for (const d of deliverers) this.set({ webhook: d.consumer.slice('webhook:'.length) }, read(d))
        }
      })
    }
    perWebhook('meridian_relay_webhook_dead_letters', 'Documents whose webhook deliveries are dead-lettered (on the delivering relay).', (d) => d.deadLetters().length)
    perWebhook('meridian_relay_webhook_pending_documents', 'Documents with changes not yet delivered (on the delivering relay).', (d) => d.pendingCount)
    perWebhook('meridian_relay_webhook_leader', '1 on the relay delivering this webhook in the region, else 0.', (d) => (d.isLeader ? 1 : 0))
    registerChangeRoutes(deps.app, { feed: this.feed, clock: options.clock })
    this.registerAdmin(webhooks.map((w) => ({ id: w.id, url: redactUrl(w.url), docs: w.docs })))
    // Wake readers and deliverers as soon as this relay commits a change (others' are polled).
    deps.rooms.onRoomChange((room, change) => {
      change.committed.then(() => {
        this.feed.wake(room.name)
        for (const d of this.deliverers) d.wake(room.name)
      }, () => undefined /* a failed commit is reported to the writer by the room */)
    })
  }

  /** Every delivery attempt's outcome on this relay (delivered, failed, dead-lettered); returns the unsubscribe function. */
  onOutcome(listener: (event: WebhookOutcome) => void): () => void {
    return this.outcomes.add(listener)
  }

  /** Starts the change log (an adapter may create it on first use) and the deliverers. */
  async start(): Promise<void> {
    const s = this.deps.options.storage
    if (s.readChangeLog !== undefined) await s.readChangeLog(null, 0)
    await Promise.all(this.deliverers.map((d) => d.start()))
  }

  /** Ends long-polls and SSE streams. */
  closeStreams(): void {
    this.feed.close()
  }

  async stop(): Promise<void> {
    this.feed.close()
    await Promise.all(this.deliverers.map((d) => d.stop()))
  }

  private registerAdmin(summaries: { id: string; url: string; docs: string[] }[]): void {
    this.deps.registerStatus('webhooks', () => summaries.map((w, i) => {
      const d = this.deliverers[i] as WebhookDeliverer
      return { ...w, delivering: d.isLeader, pendingDocuments: d.pendingCount, deadLetters: d.deadLetters() }
    }))
    this.deps.app.post('/v1/webhooks/dead-letters/retry', async (request, reply) => {
      const body = (request.body ?? {}) as { webhook?: unknown; doc?: unknown }
      const id = typeof body.webhook === 'string' ? body.webhook : undefined
      const doc = typeof body.doc === 'string' ? body.doc : undefined
      const targets = this.deliverers.filter((d) => id === undefined || d.consumer === `webhook:${id}`)
      if (targets.length === 0) return reply.code(404).send({ code: 'ERR_WEBHOOK_UNKNOWN', message: 'no webhook with that id' })
      const leading = targets.filter((d) => d.isLeader)
      if (leading.length === 0) {
        return reply.code(409).send({ code: 'ERR_WEBHOOK_NOT_LEADER', message: 'another relay of the region delivers this webhook: send this to the relay whose /v1/status shows delivering: true' })
      }
      let retried = 0
      for (const d of leading) retried += await d.retryDeadLetters(doc)
      return { retried }
    })
  }
}

function redactUrl(url: string): string {
  const u = new URL(url)
  return `${u.origin}${u.pathname}`
}
