import * as Y from 'yjs'
import { ObservableV2 } from 'lib0/observable'
import { systemClock, type Clock } from '@meridian/base'
import { Backoff, DEFAULT_BACKOFF } from './backoff.js'
import { MeridianError } from './errors.js'
import type { RelayInfo } from './link-events.js'
import {
  DEFAULT_CLIENT_OPTIONS,
  checkOpenOptions,
  validateClientOptions,
  type MeridianClientOptions,
  type OpenOptions
} from './mux-options.js'
import { MuxSession } from './mux-session.js'
import type { MeridianProviderOptions } from './options.js'
import { MeridianProvider } from './provider.js'
import { holdRefusedWrites } from './holding-write-gate.js'
import { DEFAULT_MAX_FRAME_BYTES } from './write-gate.js'
import { SharedSocket, type ClientStatus } from './shared-socket.js'
import type { ClientStore } from './store/types.js'
import { openIdbClientStore } from './store/idb-store.js'
import { SubdocWatcher } from './subdocs.js'

export interface MeridianClientEvents {
  /** The shared socket's state (`closed` once destroyed); `url` is the relay tried last. */
  status: (event: { status: ClientStatus; url: string | null }) => void
  /** The relay answered the connection's hello. */
  relay: (info: RelayInfo) => void
  /** Connection-level errors (refused credentials, a relay without multiplexing, …); each document's are its provider's. */
  error: (error: MeridianError) => void
}

/** The providers' URL: never dialled (their WebSocket is virtual); the client owns the relays and their failover. */
const PLACEHOLDER_URL = 'ws://multiplexed.invalid'
/** A provider reconnects at once: the shared socket's reconnect (and each document's backoff) are the client's. */
const IMMEDIATE = { initialDelayMs: 0, maxDelayMs: 0 }
/** The largest timer delay (larger ones fire at once): a document waits this long, i.e. for good, for the shared socket. */
const MAX_TIMER_MS = 2_147_483_647
/** What a doc-frame adds to a document's message (type, subtype, docId, length): the provider's messages stay under the relay's limit. */
const DOC_FRAME_OVERHEAD_BYTES = 16

/**
 * The largest batch: `maxBatchBytes`, but never over the relay's frame limit as
 * the documents are told it (`provider.maxFrameBytes`): a larger frame makes the
 * relay close the socket, and the reconnect would batch the same again.
 */
function batchLimit(options: MeridianClientOptions): number {
  const frameBytes = options.provider?.maxFrameBytes
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_CLIENT_OPTIONS.maxBatchBytes
  return typeof frameBytes === 'number' && frameBytes > 0 ? Math.min(maxBatchBytes, frameBytes) : maxBatchBytes
}

/** Each document's provider: the single-document one, told when it is destroyed. */
class MuxProvider extends MeridianProvider {
  private closing: Promise<void> | null = null

  constructor(
    options: MeridianProviderOptions,
    private readonly release: (closing: Promise<void>) => Promise<void>,
    private readonly sharedUrl: () => string | null
  ) {
    super(options)
  }

  /** The relay the shared socket uses (the provider itself only knows its virtual socket's placeholder). */
  override get url(): string | null {
    return super.url === null ? null : this.sharedUrl()
  }

  override get relay(): RelayInfo | null {
    const relay = super.relay
    const url = this.sharedUrl()
    return relay === null || url === null ? relay : { ...relay, url }
  }

  override destroy(): Promise<void> {
    if (this.closing === null) {
      const own = super.destroy()
      this.closing = Promise.all([own, this.release(own)]).then(() => undefined)
    }
    return this.closing
  }
}

/**
 * Many documents over one connection (`@meridian/client/multiplex`): one
 * WebSocket to `${url}/_meridian/mux`, and per document the usual
 * `MeridianProvider` riding it through a virtual socket. See the README,
 * "Many documents over one connection".
 */
export class MeridianClient extends ObservableV2<MeridianClientEvents> {
  private readonly o: MeridianClientOptions
  private readonly clock: Clock
  private readonly random: () => number
  private readonly shared: SharedSocket
  private readonly session: MuxSession
  private readonly providers = new Map<string, MeridianProvider>()
  private readonly byDoc = new Map<Y.Doc, MeridianProvider>()
  /** Documents being closed: opening one again loads its store once the close flushed it. */
  private readonly closing = new Map<string, Promise<void>>()
  /** Without a `store` option: one IndexedDB store (one database connection) for every document, opened on first use. */
  private sharedStore: Promise<ClientStore> | null = null
  private started = false
  private _relay: RelayInfo | null = null
  private destroyed = false
  private destroying: Promise<void> = Promise.resolve()

  constructor(options: MeridianClientOptions = {}) {
    super()
    const urls = validateClientOptions(options)
    this.o = options
    this.clock = options.clock ?? systemClock
    const random = (this.random = options.random ?? Math.random)
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
    this.shared = new SharedSocket({
      urls,
      params: options.params,
      WebSocket: options.WebSocket,
      backoff: new Backoff(backoff, random),
      clock: this.clock,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.connectTimeoutMs,
      maxBatchBytes: batchLimit(options),
      nodeId: Array.from({ length: 4 }, () => Math.floor(random() * 0x10000).toString(16).padStart(4, '0')).join(''),
      onOpen: () => this.session.sharedOpened(),
      onDocMessage: (message) => this.session.onDocMessage(message),
      onClose: () => this.session.sharedClosed(),
      onStatus: (status, url) => this.emit('status', [{ status, url }]),
      onRelay: (info) => {
        this._relay = info
        this.emit('relay', [info])
      },
      onError: (error) => this.emit('error', [error])
    })
    this.session = new MuxSession({ socket: this.shared, clock: this.clock, backoff, random })
  }

  get status(): ClientStatus {
    return this.shared.status
  }

  /** The relay in use (or tried last). */
  get url(): string | null {
    return this.shared.url
  }

  /** The relay, once it answered the connection's hello. */
  get relay(): RelayInfo | null {
    return this._relay
  }

  /** The open documents and their providers. */
  get documents(): ReadonlyMap<string, MeridianProvider> {
    return new Map(this.providers)
  }

  /**
   * The provider of document `docName`, opened now (offline first: it loads the
   * local store at once and syncs once connected) or already open. Opening an
   * open document again returns the same provider; with options it throws
   * ERR_OPTIONS (they could not apply: close it first). `provider.destroy()`
   * and `client.close(docName)` close it on the wire too.
   */
  open(docName: string, options?: OpenOptions): MeridianProvider {
    if (this.destroyed) throw new MeridianError('ERR_DESTROYED', 'client destroyed')
    if (typeof docName !== 'string' || docName.length === 0) throw new MeridianError('ERR_OPTIONS', 'docName must be a non-empty string')
    const open = this.providers.get(docName)
    if (open !== undefined) {
      if (options !== undefined) throw new MeridianError('ERR_OPTIONS', `${docName} is open already: close it to open it with other options`)
      return open
    }
    if (options !== undefined) checkOpenOptions(options)
    const { doc = new Y.Doc(), subdocs, ...own } = options ?? {}
    const other = this.byDoc.get(doc)
    if (other !== undefined) throw new MeridianError('ERR_OPTIONS', `this Y.Doc is open already, as ${other.docName}`)
    // The batteries-included entry holds refused writes back, the document syncing on (`holdRefusedWrites: undefined`: fail-stop).
    const perDoc = { holdRefusedWrites, ...this.o.provider, ...own }
    const maxFrameBytes = perDoc.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    let watcher: SubdocWatcher | null = null
    const provider = new MuxProvider({
      ...perDoc,
      doc,
      docName,
      url: PLACEHOLDER_URL,
      WebSocket: this.session.socketClass(docName),
      backoff: IMMEDIATE,
      connectTimeoutMs: MAX_TIMER_MS,
      clock: this.clock,
      random: this.random,
      store: perDoc.store ?? this.storeFor(docName),
      // Tabs share the default IndexedDB store, as with a provider's own default store.
      ...(perDoc.crossTab === undefined && perDoc.store === undefined && this.o.store === undefined && perDoc.crossTabSharing !== undefined ? { crossTab: true } : {}),
      maxFrameBytes: typeof maxFrameBytes === 'number' && maxFrameBytes > DOC_FRAME_OVERHEAD_BYTES ? maxFrameBytes - DOC_FRAME_OVERHEAD_BYTES : maxFrameBytes
    }, (closing) => {
      this.providers.delete(docName)
      this.byDoc.delete(doc)
      this.closing.set(docName, closing)
      void closing.finally(() => {
        if (this.closing.get(docName) === closing) this.closing.delete(docName)
      }).catch(() => undefined)
      return watcher?.destroy() ?? Promise.resolve()
    }, () => this.shared.url)
    this.providers.set(docName, provider)
    this.byDoc.set(doc, provider)
    if (subdocs !== undefined) {
      // Subdocuments get this document's options, but not its awareness (bound to its doc).
      const { awareness: _awareness, ...inherited } = own
      watcher = new SubdocWatcher(docName, doc, subdocs.autoLoad ?? false, {
        open: (name, subdoc) => this.openSubdoc(name, { ...inherited, doc: subdoc, subdocs }),
        close: (name) => this.close(name),
        onError: (error) => this.emit('error', [error])
      })
    }
    if (!this.started && (this.o.connect ?? DEFAULT_CLIENT_OPTIONS.connect)) this.connect()
    return provider
  }

  /** The provider of an open document (a subdocument's, typically); null if it is not open. */
  providerFor(doc: Y.Doc): MeridianProvider | null {
    return this.byDoc.get(doc) ?? null
  }

  /** Closes a document (doc-close on the wire); its store keeps what the relay has not acknowledged. */
  close(docName: string): Promise<void> {
    return this.providers.get(docName)?.destroy() ?? Promise.resolve()
  }

  /** Connects the shared socket (after `connect: false`, `disconnect()`, or a refusal that stopped it). */
  connect(): void {
    if (this.destroyed) return
    this.started = true
    this.shared.connect()
  }

  /** Goes offline until `connect()`: every document keeps its local edits and resyncs then. */
  disconnect(): void {
    this.shared.disconnect()
  }

  /**
   * Replaces the shared socket's query parameters from the next connection on;
   * with a `token`, also sends it on the live socket as a connection-level
   * auth-token (the relay re-checks every open document against it).
   */
  setParams(params: Readonly<Record<string, string>>): void {
    if (params === null || typeof params !== 'object' || Object.values(params).some((v) => typeof v !== 'string')) {
      throw new MeridianError('ERR_OPTIONS', 'params must be an object of strings')
    }
    this.shared.params = { ...params }
    if (params.token !== undefined) this.shared.sendToken(params.token)
  }

  /** `setParams` with a new `token` (e.g. a refreshed JWT); after a refusal that stopped the client, `connect()`. */
  setToken(token: string): void {
    if (typeof token !== 'string' || token.length === 0) throw new MeridianError('ERR_OPTIONS', 'token must be a non-empty string')
    this.setParams({ ...this.shared.params, token })
  }

  /** Closes every document (their stores keep unacknowledged writes) and the connection; every provider promise settles. */
  override destroy(): Promise<void> {
    if (!this.destroyed) {
      this.destroyed = true
      const closing = [...this.providers.values()].map((provider) => provider.destroy())
      this.shared.destroy()
      this.destroying = Promise.all(closing).then(async () => {
        const shared = await this.sharedStore?.catch(() => null)
        await shared?.close()
        super.destroy()
      })
    }
    return this.destroying
  }

  private openSubdoc(name: string, options: OpenOptions): void {
    const open = this.providers.get(name)
    if (open === undefined) this.open(name, options)
    else if (open.doc !== options.doc) throw new MeridianError('ERR_OPTIONS', `${name} is open already, with another Y.Doc`)
  }

  /**
   * The store option for a document: the client's factory (the provider closes
   * what it returns), or its one store (the app's to close). Either way the
   * document loads only once a previous close of the same name flushed its writes.
   */
  private storeFor(docName: string): MeridianProviderOptions['store'] {
    const store = this.o.store
    // The previous close, as of now (not at load time: this document's own close would wait for its load).
    const flushed = (this.closing.get(docName) ?? Promise.resolve()).catch(() => undefined)
    if (store === undefined) {
      // A failure to open it is each document's: it falls back to memory with an ERR_PERSISTENCE error event.
      return async () => viewOf(await (this.sharedStore ??= openIdbClientStore()), flushed)
    }
    if (typeof store === 'function') {
      return async () => {
        await flushed
        return await store(docName)
      }
    }
    return viewOf(store, flushed)
  }

}

/** A document's view of a store shared by every document: it loads once `flushed`, and closing it leaves the store open. */
function viewOf(store: ClientStore, flushed: Promise<unknown>): ClientStore {
  return {
    load: async (name) => {
      await flushed
      return await store.load(name)
    },
    append: (name, entries) => store.append(name, entries),
    acknowledge: (name, keys) => store.acknowledge(name, keys),
    compact: (name) => store.compact(name),
    remove: (name) => store.remove(name),
    close: () => Promise.resolve()
  }
}
