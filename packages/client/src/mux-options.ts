import type * as Y from 'yjs'
import type { Clock } from '@meridian/base'
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'
import { MeridianError } from './errors.js'
import type { MeridianProviderOptions, WebSocketConstructor } from './options.js'
import type { ClientStore } from './store/types.js'

/** Provider options the client sets for every document (one connection, one backoff, one clock). */
export const CLIENT_OWNED_OPTIONS = ['doc', 'docName', 'url', 'urls', 'WebSocket', 'params', 'backoff', 'connectTimeoutMs', 'clock', 'random'] as const

/** Per-document provider options: everything but what the client owns; `store` defaults to the client's. */
export type DocumentOptions = Omit<MeridianProviderOptions, (typeof CLIENT_OWNED_OPTIONS)[number] | 'store'> & {
  store?: MeridianProviderOptions['store']
}

export interface SubdocsOptions {
  /** Load (and so open) every subdocument as soon as it appears, not only those `subdoc.load()` loads. Default false. */
  autoLoad?: boolean
}

/** `client.open(docName, options)`. */
export interface OpenOptions extends DocumentOptions {
  /** The document to keep in sync; a new Y.Doc when omitted (read it as `provider.doc`). */
  doc?: Y.Doc
  /**
   * Open the document's loaded Yjs subdocuments too, each as relay document
   * `${docName}/subdocs/${guid}` with its own provider and store (see subdocs.ts).
   */
  subdocs?: SubdocsOptions
}

export interface MeridianClientOptions {
  /** One relay URL (`ws://host:port`)… */
  url?: string
  /** …or several, tried in order on failure (failover of the one shared socket). */
  urls?: readonly string[]
  /** WebSocket implementation. Default: `globalThis.WebSocket` (pass `ws` in Node 20). */
  WebSocket?: WebSocketConstructor
  /** Query parameters of the shared socket's URL `${url}/_meridian/mux?…` (e.g. `{ token }`). */
  params?: Readonly<Record<string, string>>
  /** Reconnect backoff of the shared socket, and of each document the relay closes. */
  backoff?: Partial<BackoffOptions>
  /** Give up on a connection attempt that has not opened after this long. */
  connectTimeoutMs?: number
  /** Connect when the first document opens. Default true; `connect()` otherwise. */
  connect?: boolean
  /**
   * Local store: one store for every document (documents are keyed by name in
   * it; the app closes it), or a factory per document (its provider closes what
   * it returns). Default: each document's provider's default, IndexedDB.
   */
  store?: ClientStore | ((docName: string) => ClientStore | Promise<ClientStore>)
  /** Provider options for every document (presence, policyEngine, policy, deleteDigest, maxFrameBytes, …); `open` may add to them. */
  provider?: DocumentOptions
  /**
   * A batch frame is sent once this many bytes are queued (and at the end of
   * every turn); never more than `provider.maxFrameBytes` (the relay's frame limit).
   */
  maxBatchBytes?: number
  /** Time source for every timer; default the system clock. */
  clock?: Clock
  /** Random numbers in [0, 1) for jitter and ids; default Math.random. */
  random?: () => number
}

export const DEFAULT_CLIENT_OPTIONS = {
  connect: true,
  backoff: DEFAULT_BACKOFF,
  connectTimeoutMs: 10_000,
  maxBatchBytes: 256 * 1024
} as const

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object'
const fail = (detail: string): never => {
  throw new MeridianError('ERR_OPTIONS', detail)
}

/** Checks the client's options; returns its relay URLs. */
export function validateClientOptions(options: MeridianClientOptions): string[] {
  if (!isObject(options)) fail('options must be an object')
  if (options.url !== undefined && options.urls !== undefined) fail('pass url or urls, not both')
  if (options.urls !== undefined && !Array.isArray(options.urls)) fail('urls must be an array')
  const urls = options.urls !== undefined ? [...options.urls] : options.url !== undefined ? [options.url] : []
  for (const url of urls) {
    if (typeof url !== 'string' || !/^wss?:\/\/[^/]+/.test(url)) fail(`relay URL must be ws:// or wss://, got ${String(url)}`)
  }
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') fail('WebSocket must be a constructor')
  if (options.params !== undefined && (!isObject(options.params) || Object.values(options.params).some((v) => typeof v !== 'string'))) {
    fail('params must be an object of strings')
  }
  if (options.connect !== undefined && typeof options.connect !== 'boolean') fail('connect must be a boolean')
  for (const name of ['connectTimeoutMs', 'maxBatchBytes'] as const) {
    const v = options[name]
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) fail(`${name} must be a positive number`)
  }
  if (options.backoff !== undefined) {
    if (!isObject(options.backoff)) fail('backoff must be an object')
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
    for (const [name, v] of Object.entries(backoff)) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(`backoff.${name} must be a number >= 0`)
    }
  }
  const store: unknown = options.store
  if (store !== undefined && typeof store !== 'function' && !(isObject(store) && typeof store.load === 'function')) {
    fail('store must be a ClientStore or a function (docName) => ClientStore')
  }
  if (options.random !== undefined && typeof options.random !== 'function') fail('random must be a function')
  if (options.clock !== undefined && !(isObject(options.clock) && typeof options.clock.setTimeout === 'function')) fail('clock must be a Clock')
  if (options.provider !== undefined) {
    checkDocumentOptions(options.provider, 'provider', null)
    if (options.provider.awareness !== undefined) fail('provider.awareness is bound to one document: pass it to open()')
  }
  return urls
}

/** Per-document options must leave the client's own to the client (the provider validates the rest). */
function checkDocumentOptions(options: unknown, where: string, allowed: string | null): void {
  if (!isObject(options)) fail(`${where} must be an object`)
  const owned = CLIENT_OWNED_OPTIONS.find((name) => name !== allowed && (options as Record<string, unknown>)[name] !== undefined)
  if (owned !== undefined) fail(`${where}.${owned} is the client's to set (one connection for every document)`)
}

/** `open`'s options, checked. */
export function checkOpenOptions(options: OpenOptions): void {
  checkDocumentOptions(options, 'open options', 'doc')
  const doc: unknown = options.doc
  if (doc !== undefined && !(isObject(doc) && typeof doc.on === 'function' && typeof doc.guid === 'string')) fail('doc must be a Y.Doc')
  const subdocs: unknown = options.subdocs
  if (subdocs !== undefined) {
    if (!isObject(subdocs)) fail('subdocs must be an object')
    else if (subdocs.autoLoad !== undefined && typeof subdocs.autoLoad !== 'boolean') fail('subdocs.autoLoad must be a boolean')
  }
}
