/**
 * Prometheus metrics of one relay (prom-client, on a registry of its own so
 * several relays can live in one process). Other parts of the relay — the
 * mesh, the policy layer — add their series through `relay.metrics`: either
 * the typed metrics declared here (replication lag, mode transitions) or
 * their own, registered on `relay.metrics.registry`. Labels never carry
 * document names or tokens: their values come from the small fixed sets below.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { StorageAdapter } from '@meridian/storage'

/** Message kinds as metric labels (the wire type names, with `_`). */
export type MessageLabel =
  | 'sync_step1' | 'sync_step2' | 'sync_update' | 'awareness' | 'auth_denied' | 'query_awareness'
  | 'hello' | 'ack' | 'error' | 'auth_token' | 'ds_digest' | 'ds_reply' | 'ds_ranges' | 'invalid' | 'other'

/** Why a message was refused (`meridian_relay_rejected_messages_total{reason}`). */
export type RejectReason =
  | 'text_frame' | 'malformed' | 'oversized' | 'invalid_update' | 'missing_deps' | 'invalid_awareness'
  | 'awareness_not_own' | 'read_only' | 'doc_too_large' | 'rate_limited' | 'pre_auth_budget' | 'unexpected'
  | 'too_deep' | 'too_costly'

/** Why a connection was refused before it joined its document (`meridian_relay_connections_refused_total{reason}`). */
export type RefuseReason =
  | 'too_many_connections' | 'too_many_per_ip' | 'bad_doc_name' | 'origin' | 'no_token' | 'invalid_token'
  | 'expired' | 'revoked' | 'forbidden' | 'auth_timeout' | 'pre_auth_invalid' | 'doc_load_failed' | 'doc_deleted' | 'shutting_down'
  | 'queue_overflow' | 'idle' | 'rate_limited' | 'header_timeout' | 'memory_budget' | 'too_many_docs' | 'other'

/** Why a live connection ended (`meridian_relay_connections_closed_total{reason}`). */
export type CloseReason =
  | 'client' | 'shutdown' | 'slow_consumer' | 'heartbeat' | 'idle' | 'expired' | 'revoked' | 'rate_limited'
  | 'protocol' | 'invalid_update' | 'doc_too_large' | 'storage' | 'other'

/**
 * The `access` label of `meridian_relay_connections`: a document socket's
 * access, or `mux` for a multiplexed socket (its documents each have their
 * own, in `meridian_relay_mux_documents`).
 */
export type ConnectionAccess = 'read' | 'write' | 'mux'

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class RelayMetrics {
  readonly registry = new Registry()
  readonly info: Gauge<'node_id' | 'region'>
  readonly connections: Gauge<'access'>
  readonly connectionsAccepted: Counter
  readonly connectionsRefused: Counter<'reason'>
  readonly connectionsClosed: Counter<'reason'>
  /** Documents open on multiplexed sockets, by access (each socket is one `connections`, access `mux`). */
  readonly muxDocuments: Gauge<'access'>
  /** doc-opens refused on multiplexed sockets, by reason (a RefuseReason). */
  readonly muxDocumentsRefused: Counter<'reason'>
  /** Documents of multiplexed sockets that ended once open (not with their socket), by reason (a CloseReason; `client`: doc-close). */
  readonly muxDocumentsClosed: Counter<'reason'>
  readonly documentsLoaded: Gauge
  readonly documentLoads: Counter<'result'>
  readonly tokenVerifications: Counter
  readonly documentLoadSeconds: Histogram
  readonly documentEvictions: Counter
  readonly messagesReceived: Counter<'type'>
  readonly bytesReceived: Counter<'type'>
  readonly messagesSent: Counter<'type'>
  readonly bytesSent: Counter<'type'>
  readonly rejectedMessages: Counter<'reason'>
  readonly throttled: Counter
  readonly storageWriteSeconds: Histogram<'op'>
  readonly storageErrors: Counter<'op'>
  readonly ackLatencySeconds: Histogram
  /** For the mesh: `now - s_Q` (docs/architecture.md, "Staleness"), per foreign region (seconds). */
  readonly replicationLagSeconds: Gauge<'region'>
  /** For the policy layer: document mode transitions. */
  readonly modeTransitions: Counter<'from' | 'to'>
  private readonly collectors = new Set<() => void>()

  /** Exposes the loaded documents' estimated memory (read at each scrape) and its budget. */
  trackDocumentMemory(read: () => number, budgetBytes: number): void {
    new Gauge({
      name: 'meridian_relay_document_memory_bytes',
      help: 'Estimated memory of the documents in memory (encoded size times a factor, plus cached encodings).',
      registers: [this.registry],
      collect() {
        this.set(read())
      }
    })
    new Gauge({ name: 'meridian_relay_document_memory_budget_bytes', help: 'The budget for documents in memory.', registers: [this.registry] }).set(budgetBytes)
  }

  constructor(options: { nodeId: string; region: string; processMetrics?: boolean }) {
    const registers = [this.registry]
    this.info = new Gauge({ name: 'meridian_relay_info', help: 'Always 1; labels identify the relay.', labelNames: ['node_id', 'region'], registers })
    this.info.set({ node_id: options.nodeId, region: options.region }, 1)
    this.connections = new Gauge({ name: 'meridian_relay_connections', help: 'Open document connections (sockets), by access (mux: a multiplexed socket).', labelNames: ['access'], registers })
    this.connections.set({ access: 'read' }, 0)
    this.connections.set({ access: 'write' }, 0)
    this.muxDocuments = new Gauge({ name: 'meridian_relay_mux_documents', help: 'Documents open on multiplexed sockets, by access.', labelNames: ['access'], registers })
    this.muxDocuments.set({ access: 'read' }, 0)
    this.muxDocuments.set({ access: 'write' }, 0)
    this.muxDocumentsRefused = new Counter({ name: 'meridian_relay_mux_documents_refused_total', help: 'Documents refused on multiplexed sockets (doc-closed before opening), by reason.', labelNames: ['reason'], registers })
    this.muxDocumentsClosed = new Counter({ name: 'meridian_relay_mux_documents_closed_total', help: 'Open documents of multiplexed sockets closed alone (doc-closed), by reason.', labelNames: ['reason'], registers })
    this.connectionsAccepted = new Counter({ name: 'meridian_relay_connections_accepted_total', help: 'Document connections that joined their document.', registers })
    this.connectionsRefused = new Counter({ name: 'meridian_relay_connections_refused_total', help: 'Connections refused before joining a document, by reason.', labelNames: ['reason'], registers })
    this.connectionsClosed = new Counter({ name: 'meridian_relay_connections_closed_total', help: 'Document connections that ended, by reason.', labelNames: ['reason'], registers })
    this.documentsLoaded = new Gauge({ name: 'meridian_relay_documents_loaded', help: 'Documents in memory.', registers })
    this.tokenVerifications = new Counter({ name: 'meridian_relay_token_verifications_total', help: 'JWT verifications run (upgrades, auth messages, refreshes).', registers })
    this.documentLoads = new Counter({ name: 'meridian_relay_document_loads_total', help: 'Document loads from storage, by result.', labelNames: ['result'], registers })
    this.documentLoadSeconds = new Histogram({ name: 'meridian_relay_document_load_seconds', help: 'Time of a storage load (documents, and reloads for compaction or the mesh).', buckets: LATENCY_BUCKETS, registers })
    this.documentEvictions = new Counter({ name: 'meridian_relay_document_evictions_total', help: 'Documents flushed and evicted from memory.', registers })
    this.messagesReceived = new Counter({ name: 'meridian_relay_messages_received_total', help: 'Messages received from clients, by type.', labelNames: ['type'], registers })
    this.bytesReceived = new Counter({ name: 'meridian_relay_bytes_received_total', help: 'Bytes received from clients, by message type.', labelNames: ['type'], registers })
    this.messagesSent = new Counter({ name: 'meridian_relay_messages_sent_total', help: 'Messages sent to clients, by type.', labelNames: ['type'], registers })
    this.bytesSent = new Counter({ name: 'meridian_relay_bytes_sent_total', help: 'Bytes sent to clients, by message type.', labelNames: ['type'], registers })
    this.rejectedMessages = new Counter({ name: 'meridian_relay_rejected_messages_total', help: 'Client messages refused, by reason.', labelNames: ['reason'], registers })
    this.throttled = new Counter({ name: 'meridian_relay_throttled_total', help: 'Times a connection went over its rate and was paused.', registers })
    this.storageWriteSeconds = new Histogram({ name: 'meridian_relay_storage_write_seconds', help: 'Storage write latency, by operation.', labelNames: ['op'], buckets: LATENCY_BUCKETS, registers })
    this.storageErrors = new Counter({ name: 'meridian_relay_storage_errors_total', help: 'Failed storage operations, by operation.', labelNames: ['op'], registers })
    this.ackLatencySeconds = new Histogram({ name: 'meridian_relay_ack_latency_seconds', help: 'From receiving a client update to its commit in storage (when it can be acknowledged).', buckets: LATENCY_BUCKETS, registers })
    this.replicationLagSeconds = new Gauge({ name: 'meridian_relay_replication_lag_seconds', help: 'Staleness towards each other region: now - start of the last completed anti-entropy exchange.', labelNames: ['region'], registers })
    this.modeTransitions = new Counter({ name: 'meridian_relay_mode_transitions_total', help: 'Document mode transitions decided by the policy layer.', labelNames: ['from', 'to'], registers })
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: 'meridian_relay_' })
  }

  /** Runs `collect` right before every scrape (to refresh gauges lazily); returns the unsubscribe function. */
  addCollector(collect: () => void): () => void {
    this.collectors.add(collect)
    return () => this.collectors.delete(collect)
  }

  /** The exposition text (Prometheus format). */
  async scrape(): Promise<string> {
    for (const collect of this.collectors) {
      try {
        collect()
      } catch {
        // A broken collector must not take the whole endpoint down.
      }
    }
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  messageIn(type: MessageLabel, bytes: number): void {
    this.messagesReceived.inc({ type })
    this.bytesReceived.inc({ type }, bytes)
  }

  /** One message sent (`bytes`: the encoded message). */
  messageOut(bytes: Uint8Array): void {
    const type = labelOfEncoded(bytes)
    this.messagesSent.inc({ type })
    this.bytesSent.inc({ type }, bytes.length)
  }

  /** `count` messages of one type sent, `bytes` in all (a broadcast, counted once for all its sockets). */
  messagesOut(type: MessageLabel, count: number, bytes: number): void {
    this.messagesSent.inc({ type }, count)
    this.bytesSent.inc({ type }, bytes)
  }
}

const LABELS: Record<string, MessageLabel> = {
  'sync-step1': 'sync_step1',
  'sync-step2': 'sync_step2',
  'sync-update': 'sync_update',
  awareness: 'awareness',
  'auth-denied': 'auth_denied',
  'query-awareness': 'query_awareness',
  hello: 'hello',
  ack: 'ack',
  error: 'error',
  'auth-token': 'auth_token',
  'ds-digest': 'ds_digest',
  'ds-reply': 'ds_reply',
  'ds-ranges': 'ds_ranges'
}

/** Label of a decoded message type. */
export const labelOf = (type: string): MessageLabel => LABELS[type] ?? 'other'

/** Labels of type-100 subtypes, by subtype number. */
const MERIDIAN_LABELS: readonly MessageLabel[] = ['hello', 'ack', 'error', 'auth_token', 'other', 'other', 'ds_digest', 'ds_reply', 'ds_ranges']

/** Label of an encoded message, from its first two bytes (every type and subtype in use is below 128). */
export function labelOfEncoded(bytes: Uint8Array): MessageLabel {
  const type = bytes[0]
  const sub = bytes[1]
  switch (type) {
    case 0: return sub === 0 ? 'sync_step1' : sub === 1 ? 'sync_step2' : sub === 2 ? 'sync_update' : 'other'
    case 1: return 'awareness'
    case 2: return 'auth_denied'
    case 3: return 'query_awareness'
    case 100: return MERIDIAN_LABELS[sub ?? -1] ?? 'other'
    default: return 'other'
  }
}

/**
 * The storage adapter with its writes timed. A Proxy, so methods a given
 * adapter adds beyond the contract still work.
 */
export function instrumentStorage(storage: StorageAdapter, metrics: RelayMetrics): StorageAdapter {
  const timed = (op: 'append' | 'compact' | 'remove', fn: (...args: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]): Promise<unknown> => {
      const end = metrics.storageWriteSeconds.startTimer({ op })
      try {
        return await fn(...args)
      } catch (err) {
        metrics.storageErrors.inc({ op })
        throw err
      } finally {
        end()
      }
    }
  const loadTimed = (fn: (...args: unknown[]) => Promise<unknown>) => async (...args: unknown[]): Promise<unknown> => {
    const end = metrics.documentLoadSeconds.startTimer()
    try {
      return await fn(...args)
    } catch (err) {
      metrics.storageErrors.inc({ op: 'load' })
      throw err
    } finally {
      end()
    }
  }
  return new Proxy(storage, {
    get(target, prop) {
      // Read on the target itself: adapters may use private fields in getters and methods.
      const value = Reflect.get(target, prop, target) as unknown
      if (typeof value !== 'function') return value
      const bound = (value as (...args: unknown[]) => Promise<unknown>).bind(target)
      if (prop === 'append' || prop === 'compact' || prop === 'remove') return timed(prop, bound)
      // A group commit is an append (one commit, however many updates).
      if (prop === 'appendMany') return timed('append', bound)
      if (prop === 'load') return loadTimed(bound)
      return bound
    }
  })
}

/**
 * The region bus bridge's series (bus-bridge.ts). Made again when a bridge is
 * attached again to the same relay (a test re-attaching): the old series go.
 */
export function createBusMetrics(registry: Registry) {
  const registers = [registry]
  for (const name of ['meridian_relay_bus_connected', ...['published', 'publish_failures', 'received', 'resyncs', 'catch_ups'].map((n) => `meridian_relay_bus_${n}_total`)]) {
    if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name)
  }
  return {
    connected: new Gauge({ name: 'meridian_relay_bus_connected', help: '1 while the region bus is connected.', registers }),
    published: new Counter({ name: 'meridian_relay_bus_published_total', help: 'Messages published on the region bus, by kind.', labelNames: ['kind'], registers }),
    publishFailures: new Counter({ name: 'meridian_relay_bus_publish_failures_total', help: 'Publishes the region bus refused, by kind.', labelNames: ['kind'], registers }),
    received: new Counter({ name: 'meridian_relay_bus_received_total', help: 'Messages from other relays of the region, by kind.', labelNames: ['kind'], registers }),
    resyncs: new Counter({ name: 'meridian_relay_bus_resyncs_total', help: 'Resync signals from the bus, by reason.', labelNames: ['reason'], registers }),
    catchUps: new Counter({ name: 'meridian_relay_bus_catch_ups_total', help: 'Document catch-ups from storage, by result.', labelNames: ['result'], registers })
  }
}
