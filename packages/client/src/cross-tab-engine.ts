import type * as Y from 'yjs'
import type { ClientStore, ClientStoreFactory } from './store/types.js'

/**
 * Origin of transactions applying another tab's update. From the global symbol
 * registry: the provider and `@meridian/client/cross-tab` may come from two copies
 * of this module (a bundler resolving one entry from sources, the other from dist).
 */
export const CROSS_TAB_ORIGIN = Symbol.for('meridian-cross-tab')

/** The subset of BroadcastChannel used here (browsers' and Node's). */
export interface BroadcastChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null
  postMessage(message: unknown): void
  close(): void
}

export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike

export interface CrossTabOptions {
  readonly doc: Y.Doc
  readonly docName: string
  /** Default `globalThis.BroadcastChannel`. */
  readonly BroadcastChannel?: BroadcastChannelConstructor
  /**
   * Another tab's update, applied to the doc (with CROSS_TAB_ORIGIN): the sender had
   * no relay connection, so a connected receiver should send it on to its relay.
   */
  readonly onForward: (update: Uint8Array) => void
  /** Something arrived that could not be applied (a buggy or newer tab). */
  readonly onError: (cause: unknown) => void
}

/** One tab's side of cross-tab sharing for one document (see cross-tab.ts). */
export interface CrossTabLink {
  /** Asks the other tabs for what this one lacks (once the local copy is loaded). */
  start(): void
  /** Shares one of this tab's own edits. `relayed`: this tab has an open relay connection. */
  postUpdate(update: Uint8Array, relayed: boolean): void
  close(): void
}

/**
 * The provider's link, with `crossTabSharing`: on by default where tabs share the store
 * (`indexedDbStore()`, whose factory says `sharedAcrossTabs`) and BroadcastChannel exists.
 * With other stores, instances do not share storage, so it is opt-in (`crossTab: true`).
 */
export function openCrossTab(
  options: { crossTabSharing?: CrossTabSharing; crossTab?: boolean; store: ClientStore | ClientStoreFactory },
  link: CrossTabOptions
): CrossTabLink | null {
  const sharing = options.crossTabSharing
  const shared = typeof options.store === 'function' && options.store.sharedAcrossTabs === true
  return sharing !== undefined && (options.crossTab ?? shared) && sharing.available() ? sharing.open(link) : null
}

/**
 * Cross-tab sharing as the provider uses it; the implementation is
 * `crossTabSharing` from `@meridian/client/cross-tab` (optional: it keeps the
 * BroadcastChannel code out of the default bundle).
 */
export interface CrossTabSharing {
  /** Whether tabs can share here (BroadcastChannel exists). */
  available(): boolean
  open(options: CrossTabOptions): CrossTabLink
}
