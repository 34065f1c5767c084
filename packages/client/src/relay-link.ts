import type { Clock, ClockTimer } from '@meridian/base'
import * as Y from 'yjs'
import {
  CLOSE_CLIENT_RECONNECT,
  FATAL_CLOSE_CODES,
  FEATURE_ACKS,
  FEATURE_DS_DIGEST,
  FEATURE_REPLICATION,
  FEATURE_STATUS,
  PROTOCOL_VERSION,
  encodeClientMessage as encodeMessage,
  tryDecodeRelayMessage,
  type RelayToClientMessage
} from '@meridian/protocol'
import type { DeleteDigest, DigestExchange } from './delete-digest.js'
import type { LinkEvent, LinkHost } from './link-events.js'
import { MeridianError } from './errors.js'
import type { WebSocketConstructor, WebSocketLike } from './options.js'

/** Relay codes whose fatal `error` message precedes a fatal close: the provider reports that close, once. */
const REPORTED_BY_CLOSE: ReadonlySet<string> = new Set(Object.values(FATAL_CLOSE_CODES))

export interface RelayLinkOptions {
  url: string
  docName: string
  params: Readonly<Record<string, string>> | undefined
  WebSocket: WebSocketConstructor
  connectTimeoutMs: number
  doc: Y.Doc
  /**
   * This provider's id in HELLO (random, per provider instance): a relay that
   * saw it leave can tell what it missed since (see FEATURE_DS_DIGEST).
   */
  nodeId: string
  /** The delete-set digest exchange, offered to the relay when present. */
  digest: DeleteDigest | null
  /** Update-bearing messages larger than this are not sent. */
  maxFrameBytes: number
  clock: Clock
  /** Send a step 1 this often once synced, so the staleness bound has a fresh, answered sync point; 0: never. */
  syncProbeIntervalMs: number
  host: LinkHost
  onEvent: (event: LinkEvent) => void
}

const OPEN = 1
const MAX_MARKS = 4096
/** How long to hold the relay's step 1 waiting for its hello (a plain y-websocket server never sends one). */
const HELLO_WAIT_MS = 1_000
const BASE_FEATURES = FEATURE_ACKS | FEATURE_STATUS | FEATURE_REPLICATION

/**
 * One WebSocket connection attempt to one relay. Counts the update-bearing
 * messages it sends and remembers which writes (ledger seqs) each covered, so the
 * relay's cumulative ack(n) maps back to writes.
 */
export class RelayLink {
  readonly url: string
  private readonly socket: WebSocketLike
  private readonly options: RelayLinkOptions
  private readonly host: LinkHost
  private readonly emit: (event: LinkEvent) => void
  /** What we offer in HELLO: the digest exchange only with its code present. */
  private readonly offered: number
  private sent = 0
  /** [message count, newest write seq, local send time] per update-bearing message, oldest first. */
  private marks: [number, number, number][] = []
  /** Local send times of our step 1s not yet answered (the relay answers each with one step 2, in order). */
  private readonly step1SentAt: number[] = []
  /** Send time of the first step 1 (its round ends with the step 2, or the last ds-reply). */
  private firstStep1AtMs: number | null = null
  /** The latest send time the relay has answered, once the first round completed; null before. */
  private answeredAtMs: number | null = null
  private probeTimer: ClockTimer | null = null
  /** When this attempt started: the relay cannot have sent anything on it before. */
  private readonly attemptAtMs: number
  /** The relay's state vector from its step 1: what it lacks of ours is the diff against it. */
  private relayStateVector: Uint8Array | null = null
  private heldStep1: Uint8Array | null = null
  private helloTimer: ClockTimer | null = null
  private relayHello = false
  private statusReceived = false
  private step2Sent = false
  /** The delete-set digest exchange (FEATURE_DS_DIGEST), made on first use. */
  private exchange: DigestExchange | null = null
  private features = 0
  private opened = false
  private closed = false
  private connectTimer: ClockTimer | null

  constructor(options: RelayLinkOptions) {
    this.options = options
    this.host = options.host
    this.emit = options.onEvent
    this.offered = BASE_FEATURES | (options.digest !== null ? FEATURE_DS_DIGEST : 0)
    this.url = options.url
    this.attemptAtMs = options.clock.now()
    const query = new URLSearchParams(options.params ?? {}).toString()
    const target = `${options.url.replace(/\/+$/, '')}/${encodeURIComponent(options.docName)}${query.length > 0 ? `?${query}` : ''}`
    this.socket = new options.WebSocket(target)
    this.socket.binaryType = 'arraybuffer'
    this.connectTimer = this.options.clock.setTimeout(() => this.close(CLOSE_CLIENT_RECONNECT, 'connect timeout'), options.connectTimeoutMs)
    this.socket.onopen = () => this.onOpen()
    this.socket.onmessage = (ev) => this.onMessage(ev.data)
    this.socket.onclose = (ev) => this.finish(ev.code, ev.reason)
    this.socket.onerror = () => {
      // The close event follows; nothing to add here.
    }
  }

  sendUpdate(update: Uint8Array, seq: number): void {
    // Before our step 2 went out, a live update could depend on offline edits still waiting in
    // it (the relay refuses updates with missing dependencies); the step 2 will cover it anyway.
    if (!this.opened || this.closed || !this.step2Sent) return
    this.sendCounted(encodeMessage({ type: 'sync-update', update }), seq)
  }

  sendAwareness(update: Uint8Array): void {
    this.send(encodeMessage({ type: 'awareness', update }))
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    try {
      this.socket.close(code, reason)
    } catch {
      // Closing a socket that never opened can throw in some implementations.
    }
    this.finish()
  }

  private onOpen(): void {
    if (this.closed) return
    this.opened = true
    if (this.connectTimer !== null) this.options.clock.clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.send(encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: this.options.nodeId, region: '', features: this.offered }))
    this.sendStep1()
    const awareness = this.host.localAwareness()
    if (awareness !== null) this.sendAwareness(awareness)
    this.emit({ type: 'open' })
  }

  private onMessage(data: unknown): void {
    if (this.closed) return
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null
    if (bytes === null) {
      this.fail(new MeridianError('ERR_PROTOCOL', 'relay sent a non-binary frame'))
      return
    }
    const decoded = tryDecodeRelayMessage(bytes, this.options.digest?.readReply ?? null)
    if (!decoded.ok) {
      this.fail(new MeridianError('ERR_PROTOCOL', `relay sent an undecodable message (${decoded.error.code})`, { cause: decoded.error }))
      return
    }
    // A message meant for relays, or a digest reply we cannot use: ignored, as y-websocket ignores unknown ones.
    if (decoded.message === null) return
    try {
      this.handle(decoded.message)
    } catch (cause) {
      this.fail(new MeridianError('ERR_REMOTE_UPDATE', 'could not apply what the relay sent', { cause }))
    }
  }

  private handle(message: RelayToClientMessage): void {
    switch (message.type) {
      case 'sync-step1':
        this.relayStateVector = message.stateVector
        // The relay says hello (and, with FEATURE_STATUS, whether the document is read-only) right
        // after its step 1: hold the answer until then, briefly, so a refused write is never sent.
        if (this.relayHello && ((this.features & FEATURE_STATUS) === 0 || this.statusReceived)) {
          this.answerStep1(message.stateVector)
        } else {
          this.heldStep1 = message.stateVector
          this.helloTimer ??= this.options.clock.setTimeout(() => this.releaseStep1(), HELLO_WAIT_MS)
        }
        return
      case 'sync-step2': {
        const sentAtMs = this.step1SentAt.shift()
        this.emit({ type: 'remote-update', update: message.update })
        if (this.answeredAtMs !== null) {
          // A probe's answer.
          if (sentAtMs !== undefined) this.answered(sentAtMs)
          return
        }
        // With the digest exchange, the round ends with the relay's ds-reply (its step 2 left deletes out).
        if ((this.features & FEATURE_DS_DIGEST) === 0) this.roundComplete()
        return
      }
      case 'ds-reply':
        // The relay's answer in the digest exchange; the round ends with its last reply.
        if (this.exchange?.reply(message) === true) this.roundComplete()
        return
      case 'sync-update':
        this.emit({ type: 'remote-update', update: message.update })
        return
      case 'awareness':
        this.emit({ type: 'awareness', update: message.update })
        return
      case 'query-awareness': {
        const awareness = this.host.localAwareness()
        if (awareness !== null) this.sendAwareness(awareness)
        return
      }
      case 'status':
        this.statusReceived = true
        this.emit({ type: 'status', status: message, reportAtMs: this.answeredAtMs ?? this.attemptAtMs, roundDone: this.answeredAtMs !== null })
        if (this.heldStep1 !== null) this.releaseStep1()
        return
      case 'replicated': {
        const covered = this.coveredBy(message.upTo)
        if (covered >= 0) this.emit({ type: 'replicated', regions: message.regions, seq: covered })
        return
      }
      case 'hello':
        this.relayHello = true
        this.features = message.features & this.offered
        // Without FEATURE_STATUS there is no status to wait for.
        if (this.heldStep1 !== null && (this.features & FEATURE_STATUS) === 0) this.releaseStep1()
        this.emit({ type: 'relay', info: { url: this.url, nodeId: message.nodeId, region: message.region, version: message.version, features: message.features } })
        return
      case 'ack': {
        const mark = this.markAt(message.upTo)
        if (mark === null) return
        this.emit({ type: 'acknowledged', seq: mark[1] })
        if (this.answeredAtMs !== null) this.answered(mark[2])
        return
      }
      case 'error':
        if (message.fatal && REPORTED_BY_CLOSE.has(message.code)) return
        this.emit({ type: 'error', error: new MeridianError('ERR_RELAY', `relay error ${message.code}: ${message.message}`, { relayCode: message.code }) })
        return
      case 'auth-denied':
        this.emit({ type: 'error', error: new MeridianError('ERR_RELAY', `permission denied: ${message.reason}`, { relayCode: 'ERR_AUTH' }) })
        return
      case 'auth-token':
      case 'ds-digest':
      case 'ds-ranges':
        // Client-to-relay messages: meaningless from a relay, ignored as y-websocket ignores unknown ones.
        return
    }
  }

  /** Sends what the relay lacks of ours (after a read-only spell): covers every write so far. */
  sendPendingDiff(): void {
    if (!this.opened || this.closed || this.relayStateVector === null) return
    const update = this.host.encodeDiff(this.relayStateVector, false)
    this.sendCounted(encodeMessage({ type: 'sync-update', update }), this.host.highWaterMark())
    this.step2Sent = true
  }

  private releaseStep1(): void {
    if (this.helloTimer !== null) this.options.clock.clearTimeout(this.helloTimer)
    this.helloTimer = null
    const sv = this.heldStep1
    this.heldStep1 = null
    if (sv !== null && !this.closed) this.answerStep1(sv)
  }

  private answerStep1(stateVector: Uint8Array): void {
    const doc = this.options.doc
    const digest = (this.features & FEATURE_DS_DIGEST) !== 0
    if (this.host.writable()) {
      // Everything the relay lacks, which covers every write so far. With the digest
      // exchange, deletes of structs the relay holds travel only if they are our pending edits'.
      const update = this.host.encodeDiff(stateVector, digest)
      this.sendCounted(encodeMessage({ type: 'sync-step2', update }), this.host.highWaterMark())
      this.step2Sent = true
    }
    if (digest && this.options.digest !== null) {
      this.exchange ??= this.options.digest.exchange({
        doc,
        send: (message) => this.send(message),
        apply: (update) => this.emit({ type: 'remote-update', update }),
        sendDeletes: (deletes) => {
          const update = this.host.sendableDeletes(deletes)
          if (update !== null) this.sendCounted(encodeMessage({ type: 'sync-update', update }), this.host.highWaterMark())
        },
        writable: () => this.host.writable()
      })
      this.exchange.begin(stateVector)
    }
  }

  private sendStep1(): void {
    if (this.send(encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(this.options.doc) }))) {
      const now = this.options.clock.now()
      this.firstStep1AtMs ??= now
      this.step1SentAt.push(now)
    }
  }

  private roundComplete(): void {
    if (this.answeredAtMs !== null || this.firstStep1AtMs === null) return
    this.answeredAtMs = this.firstStep1AtMs
    this.emit({ type: 'synced', syncAtMs: this.firstStep1AtMs })
    this.scheduleProbe()
  }

  private answered(sentAtMs: number): void {
    if (this.answeredAtMs === null || sentAtMs <= this.answeredAtMs) return
    this.answeredAtMs = sentAtMs
    this.emit({ type: 'sync-point', syncAtMs: sentAtMs })
  }

  /** One probe at a time: the next is armed once the previous is sent; an unanswered one is not repeated. */
  private scheduleProbe(): void {
    const every = this.options.syncProbeIntervalMs
    if (every <= 0 || this.closed || this.probeTimer !== null) return
    this.probeTimer = this.options.clock.setTimeout(() => {
      this.probeTimer = null
      if (this.closed) return
      if (this.step1SentAt.length === 0) this.sendStep1()
      this.scheduleProbe()
    }, every)
  }

  /** The last mark covered by the first `upTo` update-bearing messages, or null. Marks are kept sorted. */
  private markAt(upTo: number): [number, number, number] | null {
    let lo = 0
    let hi = this.marks.length - 1
    let found: [number, number, number] | null = null
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const mark = this.marks[mid] as [number, number, number]
      if (mark[0] <= upTo) {
        found = mark
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  /** The write seq covered by the first `upTo` update-bearing messages, or -1. */
  private coveredBy(upTo: number): number {
    return this.markAt(upTo)?.[1] ?? -1
  }

  private sendCounted(message: Uint8Array, seq: number): void {
    if (message.byteLength > this.options.maxFrameBytes) {
      this.emit({ type: 'frame-too-large', bytes: message.byteLength })
      return
    }
    if (!this.send(message)) return
    this.sent++
    this.marks.push([this.sent, seq, this.options.clock.now()])
    // A relay that never acknowledges (a plain y-websocket server) must not grow this forever;
    // dropping old marks only delays an ack, since acks are cumulative.
    if (this.marks.length > MAX_MARKS) this.marks.splice(0, this.marks.length - MAX_MARKS)
  }

  private send(message: Uint8Array): boolean {
    if (this.closed || this.socket.readyState !== OPEN) return false
    try {
      this.socket.send(message)
      return true
    } catch {
      this.close(CLOSE_CLIENT_RECONNECT, 'send failed')
      return false
    }
  }

  private fail(error: MeridianError): void {
    this.emit({ type: 'error', error })
    this.close(CLOSE_CLIENT_RECONNECT, error.code)
  }

  private finish(code: number | null = null, reason = ''): void {
    if (this.closed) return
    this.closed = true
    if (this.connectTimer !== null) this.options.clock.clearTimeout(this.connectTimer)
    this.connectTimer = null
    if (this.helloTimer !== null) this.options.clock.clearTimeout(this.helloTimer)
    this.helloTimer = null
    if (this.probeTimer !== null) this.options.clock.clearTimeout(this.probeTimer)
    this.probeTimer = null
    this.socket.onopen = null
    this.socket.onmessage = null
    this.socket.onclose = null
    this.emit({ type: 'close', wasOpen: this.opened, code, reason })
  }
}
