import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { BusError } from './errors.js'
import { Listeners } from './listeners.js'
import type { BusMessage, BusMessageHandler, BusResyncEvent, BusStatus, RelayBus, RelayBusEvents } from './types.js'
import { assertBusMessage, assertDocName } from './validate.js'
import { connectionOptions, resolveOptions, splitPrefixParam, type RedisBusOptions, type ResolvedOptions } from './redis-bus-options.js'
import { Waker } from './waker.js'
import { PublishNotices } from './publish-notices.js'
import { FIELD, readStream, type StreamReading, type Subscription } from './stream-entries.js'

export { DEFAULT_REDIS_BUS_OPTIONS, redactRedisUrl, splitPrefixParam, type RedisBusOptions } from './redis-bus-options.js'

interface PublisherState {
  /** `<incarnation>.<counter>`: unique to this process and this run of publishes to the document. */
  readonly epoch: string
  next: number
  expireRefreshAt: number
}

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
  /** Documents whose update publish failed: announced with a resync entry once possible. */
  readonly #notices: PublishNotices
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
  readonly #waker = new Waker()
  #generation = 0
  #blockedGeneration: number | null = null
  #readerId: number | null = null

  constructor(options: RedisBusOptions) {
    const resolved = resolveOptions(options)
    this.#options = resolved
    this.nodeId = resolved.nodeId
    this.keyPrefix = resolved.keyPrefix
    this.#events = new Listeners<RelayBusEvents>((err, event) => {
      if (event !== 'error') this.#reportError(err)
    })
    this.#notices = new PublishNotices({
      canSend: () => this.#cmdReady,
      send: (docName) => this.#xadd(this.#key(docName), this.#pub.get(docName)?.epoch ?? `${this.#incarnation}.0`, 0, 'resync', Buffer.alloc(0)),
      reportError: (err) => this.#reportError(err)
    })
    const common = connectionOptions(resolved)
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
      if (isUpdate) this.#notices.mark(docName)
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
      if (isUpdate) this.#notices.mark(docName)
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
      this.#notices.stop()
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
    if (role === 'cmd' && isReady) this.#notices.flush()
    const ready = this.#cmdReady && this.#readerReady
    if (ready) this.#everReady = true
    this.#setStatus(ready ? 'ready' : this.#everReady ? 'reconnecting' : 'connecting')
  }

  #setStatus(status: BusStatus): void {
    if (this.#status === status || this.#status === 'closed') return
    this.#status = status
    this.#events.emit('status', status)
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
    this.#waker.wake()
  }

  #sleep(maxMs: number): Promise<void> {
    return this.#waker.sleep(maxMs)
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
    const reading: StreamReading = {
      incarnation: this.#incarnation,
      needResync: (docName, reason) => {
        let set = resync.get(reason)
        if (set === undefined) resync.set(reason, (set = new Set()))
        set.add(docName)
      },
      reportError: (err) => this.#reportError(err)
    }
    for (const stream of reply as [Buffer, [Buffer, Buffer[]][]][]) {
      const sub = this.#subsByKey.get(String(stream[0]))
      if (sub !== undefined) readStream(sub, stream[1], reading)
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
