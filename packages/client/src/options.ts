import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { ClientStore, ClientStoreFactory } from './store/types.js'
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'
import { MeridianError } from './errors.js'
import type { PolicyConfig } from '@meridian/policy'
import type { Clock } from '@meridian/base'
import type { PolicyEngine } from './guarantees.js'
import type { DeleteDigest } from './delete-digest.js'
import type { Presence } from './presence-engine.js'
import type { CrossTabSharing } from './cross-tab-engine.js'
import type { HoldRefusedWrites } from './write-gate.js'

/** The subset of the WebSocket API the SDK uses (browsers' WebSocket, or `ws` in Node). */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  readonly bufferedAmount: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface MeridianProviderOptions {
  /** The document to keep in sync. The provider never replaces it. */
  doc: Y.Doc
  /** Document name: the relay room and the local store key. */
  docName: string
  /** One relay URL (`ws://host:port`)… */
  url?: string
  /** …or several, tried in order on failure (failover). */
  urls?: readonly string[]
  /**
   * Where the document lives on this device (required): `indexedDbStore()` from
   * `@meridian/client/store` in browsers, `new MemoryClientStore()` (same entry) where
   * nothing may be kept, or an app's own `ClientStore` / `ClientStoreFactory`. A factory
   * that rejects, or a store that fails, leaves the document working in memory (an
   * ERR_PERSISTENCE error event, `persistence` 'memory-only').
   */
  store: ClientStore | ClientStoreFactory
  /** WebSocket implementation. Default: `globalThis.WebSocket` (pass `ws` in Node 20). */
  WebSocket?: WebSocketConstructor
  /** Query parameters added to the relay URL (e.g. `{ token }`). */
  params?: Readonly<Record<string, string>>
  /** Start connecting once loaded. Default true; `connect()` later otherwise. */
  connect?: boolean
  /**
   * Presence (`presence` from `@meridian/client/presence`): y-protocols awareness
   * (cursors, names) shared through the relay, as `provider.awareness`. Without it
   * (the default, which keeps Awareness out of the bundle) `provider.awareness` is null.
   */
  presence?: Presence
  /** The Awareness to use (needs `presence`); a new one for `doc` when omitted. */
  awareness?: Awareness
  /** Reconnect backoff. */
  backoff?: Partial<BackoffOptions>
  /** Give up on a connection attempt that has not opened after this long. */
  connectTimeoutMs?: number
  /** Compact the local store once this many update records pile up. */
  compactAfterUpdates?: number
  /**
   * Bounded-staleness policy: the document's bounds (maxStalenessMs = T,
   * maxPendingUpdates = K), hysteresis (recoveryHoldMs) and the app's
   * capabilities with their requirements. See @meridian/policy. Needs `policyEngine`.
   */
  policy?: Partial<PolicyConfig>
  /**
   * The policy engine (`policyEngine` from `@meridian/client/policy`): modes with
   * hysteresis, the staleness bound, bounds and capabilities. Without it (the
   * default, which keeps the engine out of the bundle) the provider reports the
   * connection and the relay's read-only flag only (see BasicGuarantees).
   */
  policyEngine?: PolicyEngine
  /**
   * The delete-set digest exchange (`deleteDigest` from `@meridian/client/digest`):
   * reconnects send and receive only the deletes the other side lacks. Without it
   * deletes travel as in y-websocket (whole delete sets).
   */
  deleteDigest?: DeleteDigest
  /**
   * Cross-tab sharing (`crossTabSharing` from `@meridian/client/cross-tab`): tabs of
   * this origin editing the same document see each other's edits at once, even
   * offline (BroadcastChannel). Without it (the default, which keeps it out of the
   * bundle) tabs meet through the relay and, on load, the shared IndexedDB store.
   */
  crossTabSharing?: CrossTabSharing
  /**
   * With `crossTabSharing`: whether to share. Default: true when BroadcastChannel
   * exists and the store is shared by the tabs (`indexedDbStore()`: its factory's
   * `sharedAcrossTabs`); false with other stores, whose instances do not share storage.
   */
  crossTab?: boolean
  /** Time source for every timer and timestamp; default the system clock. Tests pass a simulated one (@meridian/testing). */
  clock?: Clock
  /**
   * Once synced, send a step 1 this often: its answer is a sync point the staleness
   * bound is measured from (the time the probe was *sent*, so latency is counted).
   * Default with `policyEngine`: a quarter of the smallest configured maxStalenessMs,
   * between 20 and 1 000 ms (`defaultSyncProbeIntervalMs`); without it 0 (nothing
   * computes a bound). 0 disables probing (the bound then grows between
   * acknowledged writes).
   */
  syncProbeIntervalMs?: number
  /**
   * Largest message the SDK sends (default 16 MiB, the relay's default
   * `maxMessageBytes`; set it to your relay's). A write whose update is larger is
   * never sent into a connection the relay would close: it stops syncing the
   * document with an ERR_WRITE_TOO_LARGE error naming it, or is held back with
   * `holdRefusedWrites`.
   */
  maxFrameBytes?: number
  /**
   * Holding refused writes (`holdRefusedWrites` from `@meridian/client/refused-writes`):
   * a write larger than `maxFrameBytes`, or one the relay refuses (close 1009, 4413, or
   * 4400 ERR_HISTORY_APPEND_ONLY), is held back with one error naming it and the
   * document's other writes keep syncing (`provider.refusedWrites`, `provider.dropWrite`).
   * Without it (the default, which keeps it out of the bundle) such a write stops
   * syncing the document with one error (ERR_WRITE_TOO_LARGE or ERR_WRITE_REFUSED):
   * no reconnecting until `connect()`; the document keeps every edit locally.
   */
  holdRefusedWrites?: HoldRefusedWrites
  /** Random numbers in [0, 1) for reconnect jitter and the provider's HELLO id; default Math.random. */
  random?: () => number
}

export const DEFAULT_PROVIDER_OPTIONS = {
  connect: true,
  backoff: DEFAULT_BACKOFF,
  connectTimeoutMs: 10_000,
  compactAfterUpdates: 200
} as const

/** A quarter of the smallest staleness bound the policy configures, within [20, 1 000] ms. */
export function defaultSyncProbeIntervalMs(policy: Partial<PolicyConfig> | undefined): number {
  const bounds = [policy?.maxStalenessMs ?? 30_000, ...(policy?.capabilities ?? []).flatMap((c) => (c.maxStalenessMs !== undefined ? [c.maxStalenessMs] : []))]
  return Math.min(1_000, Math.max(20, Math.floor(Math.min(...bounds) / 4)))
}

export function validateProviderOptions(options: MeridianProviderOptions): string[] {
  if (options === null || typeof options !== 'object') throw new MeridianError('ERR_OPTIONS', 'options must be an object')
  if (options.doc === undefined || typeof options.doc.on !== 'function') throw new MeridianError('ERR_OPTIONS', 'doc must be a Y.Doc')
  if (typeof options.docName !== 'string' || options.docName.length === 0) {
    throw new MeridianError('ERR_OPTIONS', 'docName must be a non-empty string')
  }
  const store = options.store as unknown
  if (store === null || (typeof store !== 'object' && typeof store !== 'function')) {
    throw new MeridianError('ERR_OPTIONS', 'store is required: indexedDbStore() or new MemoryClientStore() from @meridian/client/store')
  }
  const urls = options.urls !== undefined ? [...options.urls] : options.url !== undefined ? [options.url] : []
  for (const url of urls) {
    if (typeof url !== 'string' || !/^wss?:\/\/[^/]+/.test(url)) {
      throw new MeridianError('ERR_OPTIONS', `relay URL must be ws:// or wss://, got ${String(url)}`)
    }
  }
  if (options.policy !== undefined && options.policyEngine === undefined) {
    throw new MeridianError('ERR_OPTIONS', 'policy needs policyEngine (@meridian/client/policy)')
  }
  if (options.awareness !== undefined && options.presence === undefined) {
    throw new MeridianError('ERR_OPTIONS', 'awareness needs presence (@meridian/client/presence)')
  }
  if (options.crossTab !== undefined && typeof options.crossTab !== 'boolean') throw new MeridianError('ERR_OPTIONS', 'crossTab must be a boolean')
  if (options.crossTab === true && options.crossTabSharing === undefined) {
    throw new MeridianError('ERR_OPTIONS', 'crossTab needs crossTabSharing (@meridian/client/cross-tab)')
  }
  const probe = options.syncProbeIntervalMs
  if (probe !== undefined && (typeof probe !== 'number' || !(probe >= 0) || !Number.isFinite(probe))) {
    throw new MeridianError('ERR_OPTIONS', 'syncProbeIntervalMs must be a number >= 0')
  }
  for (const name of ['connectTimeoutMs', 'compactAfterUpdates', 'maxFrameBytes'] as const) {
    const v = options[name]
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) throw new MeridianError('ERR_OPTIONS', `${name} must be a positive number`)
  }
  return urls
}
