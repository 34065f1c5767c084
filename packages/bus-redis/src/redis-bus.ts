import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { BusError } from './errors.js'
import { Listeners } from './listeners.js'
import type { BusMessage, BusMessageHandler, BusResyncEvent, BusStatus, RelayBus, RelayBusEvents } from './types.js'
import { assertBusMessage, assertDocName, assertNodeId } from './validate.js'

export interface RedisBusOptions {
  /**
   * `redis://[user:password@]host:6379[/db]` (or `rediss://`). A `prefix` query
   * parameter sets `keyPrefix` (unless given); other parameters go to ioredis.
   */
  url: string
  /** This relay's id, carried by every entry it publishes. */
  nodeId: string
  /** Prefix of every key; relays of one region share it, other regions (on the same Redis) must not. Default 'meridian:'. */
  keyPrefix?: string
  /** Approximate cap on entries kept per document stream (`XADD MAXLEN ~`). Default 1000. */
  streamMaxLen?: number
  /** A document stream nobody publishes to expires after this long. Default 3600000 (1 h). */
  streamTtlMs?: number
  /** How long one blocking XREAD waits before it is reissued. Default 5000. */
  blockMs?: number
  /** Most entries read per stream per XREAD. Default 500. */
  readBatch?: number
  /** Longest pause between reconnection attempts (exponential backoff with jitter up to this). Default 2000. */
  reconnectMaxDelayMs?: number
  /** Give up a connection attempt after this long (then retry). Default 10000. */
  connectTimeoutMs?: number
  /** Name of the two connections in `CLIENT LIST` (suffixed ':cmd' and ':read'). Default `meridian-bus:<nodeId>`. */
  connectionName?: string
}

export const DEFAULT_REDIS_BUS_OPTIONS = Object.freeze({
  keyPrefix: 'meridian:',
  streamMaxLen: 1000,
  streamTtlMs: 3_600_000,
  blockMs: 5_000,
  readBatch: 500,
  reconnectMaxDelayMs: 2_000,
  connectTimeoutMs: 10_000
})

type ResolvedOptions = Required<RedisBusOptions>

interface Subscription {
  readonly docName: string
  readonly key: string
  readonly handlers: Set<BusMessageHandler>
  /** Id of the last entry read (or the stream's tail at subscription); null: unknown — fetch the tail, then resync. */
  cursor: string | null
  /** True while `subscribe` takes the stream's tail itself: the read loop leaves it alone meanwhile. */
  settingUp: boolean
  /** Per publisher epoch, the last update number seen: a jump means entries were trimmed unread. */
  readonly publishers: Map<string, number>
}

interface PublisherState {
  /** `<incarnation>.<counter>`: unique to this process and this run of publishes to the document. */
  readonly epoch: string
  next: number
  expireRefreshAt: number
}

/** Publisher epochs remembered per document for gap detection (oldest forgotten first). */
const MAX_PUBLISHERS_PER_DOC = 64
const FIELD = { origin: 'o', epoch: 'i', number: 'n', kind: 'k', data: 'd' } as const

/**
 * The region bus on Redis Streams. One stream per document
 * (`<prefix>doc:<docName>`); each entry is `o` (publishing node id), `i`
 * (publisher epoch), `n` (update number within the epoch), `k` (update,
 * awareness or resync) and `d` (the bytes). Two connections per relay: one for
 * commands (XADD, ...), one running a single blocking XREAD loop over the
 * streams of every subscribed document.
 *
 * Missed messages are never silent (see RelayBus):
 * - after the reading connection comes back, every read position is re-taken
 *   from the streams' tails and a `resync` names every subscribed document;
 * - a jump in a publisher's update numbers (entries trimmed before they were
 *   read) triggers a `resync` of that document;
 * - an update publish that failed is announced with a `resync` entry on the
 *   document's stream once the command connection is back, so other relays
 *   catch up from storage.
 * Streams only carry updates that are already durable in storage (the relay
 * publishes after commit), so trimming them (`MAXLEN ~` on every XADD, plus a
 * TTL on idle streams) never loses data.
 */
export class RedisBus implements RelayBus {
  readonly nodeId: string
  readonly keyPrefix: string
  readonly #options: ResolvedOptions
  readonly #incarnation = randomBytes(8).toString('hex')
  readonly #cmd: Redis
  readonly #reader: Redis
  readonly #events: Listeners<RelayBusEvents>
  readonly #subs = new Map<string, Subscription>()
  readonly #subsByKey = new Map<string, Subscription>()
  readonly #pub = new Map<string, PublisherState>()
  /** Documents whose update publish failed: announce with a resync entry once possible. */
  readonly #unpublished = new Set<string>()
  #epochs = 0
  #status: BusStatus = 'connecting'
  #everReady = false
  #cmdReady = false
  #readerReady = false
  /** Bumped each time the reading connection becomes ready: positions taken before are void. */
  #readerEpoch = 0
  #closed = false
  #closing: Promise<void> | null = null
  #loop: Promise<void> = Promise.resolve()
  #wake: (() => void) | null = null
  #generation = 0
  #blockedGeneration: number | null = null
  #readerId: number | null = null
  #noticeTimer: NodeJS.Timeout | null = null

  constructor(options: RedisBusOptions) {
    const resolved = resolveOptions(options)
    this.#options = resolved
    this.nodeId = resolved.nodeId
    this.keyPrefix = resolved.keyPrefix
    this.#events = new Listeners<RelayBusEvents>((err, event) => {
      if (event !== 'error') this.#reportError(err)
    })
    const common: RedisOptions = {
      connectTimeout: resolved.connectTimeoutMs,
      // Never queue or replay commands behind our back: a publish either goes out now or
      // fails (and is announced later); the read loop re-takes its positions on reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      disableClientInfo: true,
      protocol: 2,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), resolved.reconnectMaxDelayMs) + Math.floor(Math.random() * 100)
    }
    const { url } = splitPrefixParam(resolved.url)
    this.#cmd = new Redis(url, { ...common, connectionName: `${resolved.connectionName}:cmd` })
    this.#reader = new Redis(url, { ...common, connectionName: `${resolved.connectionName}:read` })
    for (const [connection, role] of [[this.#cmd, 'cmd'], [this.#reader, 'read']] as const) {
      connection.on('error', (err: Error) => this.#reportError(err))
      for (const event of ['ready', 'close', 'end', 'reconnecting', 'connect'] as const) {
        connection.on(event, () => this.#onConnectionEvent(role, event))
      }
    }
    this.#loop = this.#readLoop()
  }

  get status(): BusStatus {
    return this.#status
  }

  /** Resolves once both connections are ready; rejects after `timeoutMs` or on close. */
  whenReady(timeoutMs = this.#options.connectTimeoutMs): Promise<void> {
    if (this.#status === 'ready') return Promise.resolve()
    if (this.#closed) return Promise.reject(new BusError('ERR_BUS_CLOSED', 'bus is closed'))
    return new Promise((resolve, reject) => {
      const off = this.on('status', (status) => {
        if (status === 'ready') done(null)
        else if (status === 'closed') done(new BusError('ERR_BUS_CLOSED', 'bus is closed'))
      })
      const timer = setTimeout(() => done(new BusError('ERR_BUS_UNAVAILABLE', `Redis not ready within ${timeoutMs} ms`)), timeoutMs)
      const done = (err: Error | null): void => {
        clearTimeout(timer)
        off()
        if (err === null) resolve()
        else reject(err)
      }
    })
  }

  on<E extends keyof RelayBusEvents>(event: E, listener: RelayBusEvents[E]): () => void {
    return this.#events.on(event, listener)
  }

  async publish(docName: string, message: BusMessage): Promise<void> {
    this.#assertOpen()
    assertDocName(docName)
    assertBusMessage(message)
    let state = this.#pub.get(docName)
    if (state === undefined) {
      state = { epoch: `${this.#incarnation}.${++this.#epochs}`, next: 1, expireRefreshAt: 0 }
      this.#pub.set(docName, state)
    }
    const isUpdate = message.kind === 'update'
    // Numbered even if the publish fails, so the next one shows readers the gap.
    const number = isUpdate ? state.next++ : 0
    if (!this.#cmdReady) {
      if (isUpdate) this.#markUnpublished(docName)
      throw new BusError('ERR_BUS_UNAVAILABLE', 'not connected to Redis')
    }
    const key = this.#key(docName)
    const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)
    const writes: Promise<unknown>[] = [this.#xadd(key, state.epoch, number, message.kind, data)]
    const now = Date.now()
    if (now >= state.expireRefreshAt) {
      state.expireRefreshAt = now + Math.floor(this.#options.streamTtlMs / 4)
      writes.push(this.#cmd.pexpire(key, this.#options.streamTtlMs))
    }
    try {
      await Promise.all(writes)
    } catch (cause) {
      state.expireRefreshAt = 0
      if (isUpdate) this.#markUnpublished(docName)
      throw new BusError('ERR_BUS_UNAVAILABLE', `publish to Redis failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    }
  }

  async subscribe(docName: string, handler: BusMessageHandler): Promise<() => Promise<void>> {
    this.#assertOpen()
    assertDocName(docName)
    if (typeof handler !== 'function') throw new BusError('ERR_BUS_INVALID_ARGUMENT', 'handler must be a function')
    const entry: BusMessageHandler = (m) => handler(m)
    let sub = this.#subs.get(docName)
    if (sub === undefined) {
      sub = { docName, key: this.#key(docName), handlers: new Set(), cursor: null, settingUp: true, publishers: new Map() }
      this.#subs.set(docName, sub)
      this.#subsByKey.set(sub.key, sub)
      sub.handlers.add(entry)
      // Read from the stream's current tail: anything published before is already in storage,
      // which the subscriber reads after this resolves. If the tail cannot be read now, the
      // read loop takes it later and emits a resync for this document.
      if (this.#cmdReady && this.#readerReady) {
        const readerEpoch = this.#readerEpoch
        try {
          const tail = await this.#tail(this.#cmd, sub.key)
          // If the reader reconnected meanwhile, leave the position unknown: the loop re-takes it and resyncs.
          if (this.#readerEpoch === readerEpoch) sub.cursor = tail
        } catch (err) {
          this.#reportError(err)
        }
      }
      sub.settingUp = false
      this.#kick()
    } else {
      sub.handlers.add(entry)
    }
    const subscription = sub
    return async () => {
      subscription.handlers.delete(entry)
      if (subscription.handlers.size > 0 || this.#subs.get(docName) !== subscription) return
      this.#subs.delete(docName)
      this.#subsByKey.delete(subscription.key)
      this.#pub.delete(docName)
      this.#generation++ // the next XREAD leaves the stream out; no need to interrupt this one
    }
  }

  async trim(docName: string, maxEntries: number): Promise<void> {
    this.#assertOpen()
    assertDocName(docName)
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new BusError('ERR_BUS_INVALID_ARGUMENT', 'maxEntries must be a non-negative integer')
    try {
      await this.#cmd.xtrim(this.#key(docName), 'MAXLEN', maxEntries)
    } catch (cause) {
      throw new BusError('ERR_BUS_UNAVAILABLE', 'trim failed', { cause })
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      this.#setStatus('closed')
      if (this.#noticeTimer !== null) clearTimeout(this.#noticeTimer)
      this.#wakeUp()
      this.#reader.disconnect()
      try {
        await this.#cmd.quit() // lets publishes in flight finish
      } catch {
        this.#cmd.disconnect()
      }
      await this.#loop.catch(() => undefined)
      this.#subs.clear()
      this.#subsByKey.clear()
      this.#events.clear()
    })()
    return this.#closing
  }

  #key(docName: string): string {
    return `${this.keyPrefix}doc:${docName}`
  }

  #xadd(key: string, epoch: string, number: number, kind: string, data: Buffer): Promise<unknown> {
    return this.#cmd.xadd(
      key, 'MAXLEN', '~', this.#options.streamMaxLen, '*',
      FIELD.origin, this.nodeId, FIELD.epoch, epoch, FIELD.number, number, FIELD.kind, kind, FIELD.data, data
    )
  }

  /** Id of the newest entry of a stream ('0-0' if it does not exist). */
  async #tail(connection: Redis, key: string): Promise<string> {
    const newest = await connection.xrevrange(key, '+', '-', 'COUNT', 1)
    return newest[0]?.[0] ?? '0-0'
  }

  #onConnectionEvent(role: 'cmd' | 'read', event: 'ready' | 'close' | 'end' | 'reconnecting' | 'connect'): void {
    if (this.#closed) return
    // Tracked from the events themselves: ioredis updates `status` a tick before it emits them.
    const isReady = event === 'ready'
    if (role === 'read') this.#readerReady = isReady
    else this.#cmdReady = isReady
    if (role === 'read' && isReady) {
      // Whatever was published while we were away is only in storage now.
      this.#readerId = null
      this.#readerEpoch++
      for (const sub of this.#subs.values()) sub.cursor = null
      this.#wakeUp()
    }
    if (role === 'cmd' && isReady) this.#sendNotices()
    const ready = this.#cmdReady && this.#readerReady
    if (ready) this.#everReady = true
    this.#setStatus(ready ? 'ready' : this.#everReady ? 'reconnecting' : 'connecting')
  }

  #setStatus(status: BusStatus): void {
    if (this.#status === status || this.#status === 'closed') return
    this.#status = status
    this.#events.emit('status', status)
  }

  #markUnpublished(docName: string): void {
    this.#unpublished.add(docName)
    this.#scheduleNotices(1_000)
  }

  #scheduleNotices(delayMs: number): void {
    if (this.#noticeTimer !== null || this.#closed) return
    this.#noticeTimer = setTimeout(() => {
      this.#noticeTimer = null
      this.#sendNotices()
    }, delayMs)
    this.#noticeTimer.unref()
  }

  /** Tells the other relays to catch these documents up from storage: our publishes of them failed. */
  #sendNotices(): void {
    if (this.#closed || this.#unpublished.size === 0) return
    if (!this.#cmdReady) return // retried on the next 'ready'
    for (const docName of [...this.#unpublished]) {
      this.#unpublished.delete(docName)
      const state = this.#pub.get(docName)
      const epoch = state?.epoch ?? `${this.#incarnation}.0`
      this.#xadd(this.#key(docName), epoch, 0, 'resync', Buffer.alloc(0)).catch((err: unknown) => {
        this.#reportError(err)
        this.#markUnpublished(docName)
      })
    }
  }

  /** Something changed for the read loop (a subscription, a connection): make it start over now. */
  #kick(): void {
    this.#generation++
    this.#wakeUp()
    this.#unblockIfStale(0)
  }

  #unblockIfStale(attempt: number): void {
    const blocked = this.#blockedGeneration
    if (this.#closed || blocked === null || blocked >= this.#generation) return
    if (this.#readerId !== null && this.#cmdReady) {
      this.#cmd.client('UNBLOCK', this.#readerId).catch(() => undefined)
    }
    // The UNBLOCK may overtake the XREAD it targets (two connections): check again shortly.
    if (attempt < 4) setTimeout(() => this.#unblockIfStale(attempt + 1), 20 * (attempt + 1)).unref()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #sleep(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null
        resolve()
      }, maxMs)
      timer.unref()
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  async #readLoop(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#readOnce()
      } catch (err) {
        if (this.#closed) break
        // A dropped connection rejects the XREAD in flight; 'ready' will restart us. Anything else is reported.
        if (this.#readerReady) this.#reportError(err)
        await this.#sleep(100)
      }
    }
  }

  async #readOnce(): Promise<void> {
    if (!this.#readerReady) {
      await this.#sleep(1_000)
      return
    }
    this.#readerId ??= Number(await this.#reader.client('ID'))
    const unknown = [...this.#subs.values()].filter((s) => s.cursor === null && !s.settingUp)
    if (unknown.length > 0) {
      const readerEpoch = this.#readerEpoch
      const pipeline = this.#reader.pipeline()
      for (const sub of unknown) pipeline.xrevrange(sub.key, '+', '-', 'COUNT', 1)
      const results = (await pipeline.exec()) ?? []
      if (this.#readerEpoch !== readerEpoch) return // reconnected meanwhile: take them again
      const resync: string[] = []
      unknown.forEach((sub, i) => {
        const [err, newest] = results[i] ?? [new Error('no reply'), null]
        if (err !== null) throw err
        if (this.#subs.get(sub.docName) !== sub) return
        sub.cursor = (newest as [string, string[]][] | null)?.[0]?.[0] ?? '0-0'
        sub.publishers.clear()
        resync.push(sub.docName)
      })
      if (resync.length > 0) this.#emitResync({ docNames: resync, reason: 'reconnected' })
      return
    }
    const subs = [...this.#subs.values()].filter((s) => s.cursor !== null)
    if (subs.length === 0) {
      await this.#sleep(1_000)
      return
    }
    this.#blockedGeneration = this.#generation
    let reply: unknown
    try {
      reply = await this.#reader.callBuffer(
        'XREAD', 'COUNT', this.#options.readBatch, 'BLOCK', this.#options.blockMs, 'STREAMS',
        ...subs.map((s) => s.key), ...subs.map((s) => s.cursor ?? '$')
      )
    } finally {
      this.#blockedGeneration = null
    }
    if (reply !== null) this.#deliver(reply)
  }

  #deliver(reply: unknown): void {
    if (!Array.isArray(reply)) return
    const resync = new Map<BusResyncEvent['reason'], Set<string>>()
    const needResync = (docName: string, reason: BusResyncEvent['reason']): void => {
      let set = resync.get(reason)
      if (set === undefined) resync.set(reason, (set = new Set()))
      set.add(docName)
    }
    for (const stream of reply as [Buffer, [Buffer, Buffer[]][]][]) {
      const sub = this.#subsByKey.get(String(stream[0]))
      if (sub === undefined) continue
      for (const [id, fields] of stream[1]) {
        sub.cursor = String(id)
        const entry = parseEntry(fields)
        if (entry === null) {
          this.#reportError(new Error(`malformed bus entry ${String(id)} in ${sub.key}`))
          continue
        }
        if (entry.epoch.startsWith(`${this.#incarnation}.`)) continue // our own
        if (entry.kind === 'resync') {
          needResync(sub.docName, 'peer-publish-failed')
          continue
        }
        if (entry.kind === 'update') {
          const last = sub.publishers.get(entry.epoch)
          if (last !== undefined && entry.number > last + 1) needResync(sub.docName, 'gap')
          if (last === undefined || entry.number > last) {
            sub.publishers.delete(entry.epoch) // re-insert: Map order is recency
            sub.publishers.set(entry.epoch, entry.number)
            if (sub.publishers.size > MAX_PUBLISHERS_PER_DOC) {
              const oldest = sub.publishers.keys().next().value
              if (oldest !== undefined) sub.publishers.delete(oldest)
            }
          }
        } else if (entry.kind !== 'awareness') {
          continue // a kind from a newer version: skip it
        }
        for (const handler of [...sub.handlers]) {
          try {
            handler({ kind: entry.kind, data: new Uint8Array(entry.data), origin: entry.origin })
          } catch (err) {
            this.#reportError(err)
          }
        }
      }
    }
    for (const [reason, docNames] of resync) this.#emitResync({ docNames: [...docNames], reason })
  }

  #emitResync(event: BusResyncEvent): void {
    this.#events.emit('resync', event)
  }

  #reportError(err: unknown): void {
    if (this.#closed) return
    this.#events.emit('error', err instanceof Error ? err : new Error(String(err)))
  }

  #assertOpen(): void {
    if (this.#closed) throw new BusError('ERR_BUS_CLOSED', 'bus is closed')
  }
}

/** Creates the bus and starts connecting in the background (see `whenReady`, the `status` event). */
export function openRedisBus(options: RedisBusOptions): RedisBus {
  return new RedisBus(options)
}

/** Splits Meridian's own `prefix` query parameter off a Redis URL. */
export function splitPrefixParam(url: string): { url: string; prefix: string | undefined } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url, prefix: undefined }
  }
  const prefix = parsed.searchParams.get('prefix') ?? undefined
  if (prefix === undefined) return { url, prefix }
  parsed.searchParams.delete('prefix')
  return { url: parsed.toString(), prefix }
}

/** `redis://:secret@host` → `redis://:***@host`, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable Redis URL)'
  }
}

interface Entry {
  origin: string
  epoch: string
  number: number
  kind: string
  data: Buffer
}

function parseEntry(fields: Buffer[]): Entry | null {
  const values = new Map<string, Buffer>()
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]
    const value = fields[i + 1]
    if (name !== undefined && value !== undefined) values.set(String(name), value)
  }
  const origin = values.get(FIELD.origin)
  const epoch = values.get(FIELD.epoch)
  const number = Number(String(values.get(FIELD.number) ?? ''))
  const kind = values.get(FIELD.kind)
  const data = values.get(FIELD.data)
  if (origin === undefined || epoch === undefined || kind === undefined || data === undefined || !Number.isSafeInteger(number)) return null
  return { origin: String(origin), epoch: String(epoch), number, kind: String(kind), data }
}

function resolveOptions(options: RedisBusOptions): ResolvedOptions {
  const invalid = (message: string) => new BusError('ERR_BUS_INVALID_ARGUMENT', message)
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) throw invalid('url must be a redis:// or rediss:// URL')
  assertNodeId(options.nodeId)
  const fromUrl = splitPrefixParam(options.url).prefix
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<RedisBusOptions>
  const merged: ResolvedOptions = {
    ...DEFAULT_REDIS_BUS_OPTIONS,
    connectionName: `meridian-bus:${options.nodeId.replace(/\s/g, '_')}`,
    ...defined,
    keyPrefix: options.keyPrefix ?? fromUrl ?? DEFAULT_REDIS_BUS_OPTIONS.keyPrefix
  } as ResolvedOptions
  if (typeof merged.keyPrefix !== 'string') throw invalid('keyPrefix must be a string')
  if (typeof merged.connectionName !== 'string' || /\s/.test(merged.connectionName) || merged.connectionName === '') {
    throw invalid('connectionName must be a non-empty string without spaces')
  }
  const int = (name: keyof ResolvedOptions, min: number): void => {
    const value = merged[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 0x7fffffff) {
      throw invalid(`${name} must be an integer between ${min} and 2147483647`)
    }
  }
  int('streamMaxLen', 1)
  int('streamTtlMs', 1_000)
  int('blockMs', 1)
  int('readBatch', 1)
  int('reconnectMaxDelayMs', 1)
  int('connectTimeoutMs', 1)
  return merged
}
