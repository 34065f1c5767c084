/**
 * `@meridian/client/cross-tab`: sharing edits between the tabs of an origin,
 * passed to the provider as `crossTabSharing` (see options.ts, `crossTab`).
 */
import * as Y from 'yjs'
import { CROSS_TAB_ORIGIN, type BroadcastChannelConstructor, type BroadcastChannelLike, type CrossTabLink, type CrossTabOptions, type CrossTabSharing } from './cross-tab-engine.js'

export { CROSS_TAB_ORIGIN, type BroadcastChannelConstructor, type BroadcastChannelLike, type CrossTabLink, type CrossTabOptions, type CrossTabSharing } from './cross-tab-engine.js'

/**
 * Cross-tab sharing for one document: tabs of one origin editing the same
 * document see each other's edits at once, with or without a relay, through a
 * BroadcastChannel named after the document.
 *
 * The rules, so that N tabs do not multiply work:
 * - A tab posts only its **own** edits (the provider calls `postUpdate` for
 *   local-origin updates). What it receives from the channel, the relay or its
 *   store is never posted again, so nothing echoes between tabs.
 * - A received update is applied to the doc with `CROSS_TAB_ORIGIN`. The
 *   receiving tab neither persists it (the sender already wrote it to the
 *   IndexedDB store the tabs share) nor adds it to its ledger (it is not its
 *   edit to get acknowledged; the sender's ledger tracks it).
 * - Each message says whether the sender had an open relay connection. If not,
 *   a receiving tab that is connected forwards the update to its relay, so an
 *   edit made in a tab that is offline on its own still reaches the relay now.
 *   (If both are connected the sender's own send suffices; duplicates would be
 *   harmless anyway: Yjs ignores what it already has.)
 * - A tab that opens posts its state vector (`step1`); every other tab
 *   answers with what the newcomer lacks (`step2`) and asks the same of it.
 *   That covers edits another tab made before this one subscribed and whose
 *   IndexedDB write had not committed when this one loaded.
 */

const VERSION = 1

type CrossTabMessage =
  | { readonly v: 1; readonly kind: 'update'; readonly from: string; readonly update: Uint8Array; readonly relayed: boolean }
  | { readonly v: 1; readonly kind: 'step1'; readonly from: string; readonly to: string | null; readonly stateVector: Uint8Array }
  | { readonly v: 1; readonly kind: 'step2'; readonly from: string; readonly to: string; readonly update: Uint8Array }

export function broadcastChannelAvailable(): boolean {
  return typeof (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel === 'function'
}

/** The channel all tabs of an origin use for one document. */
export function crossTabChannelName(docName: string): string {
  return `meridian:doc:${docName}`
}

export class CrossTab implements CrossTabLink {
  /** Random per instance: tells this tab's messages and replies apart from others'. */
  readonly tabId: string
  private readonly channel: BroadcastChannelLike
  private readonly options: CrossTabOptions
  private closed = false

  constructor(options: CrossTabOptions) {
    this.options = options
    this.tabId = randomId()
    const Channel = options.BroadcastChannel ?? (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel
    if (Channel === undefined) throw new TypeError('BroadcastChannel is not available')
    this.channel = new Channel(crossTabChannelName(options.docName))
    // Node's BroadcastChannel keeps the process alive; a browser's has no unref.
    ;(this.channel as { unref?: () => void }).unref?.()
    this.channel.onmessage = (event) => this.receive(event.data)
  }

  /** Asks the other tabs for what this one lacks (call once the local copy is loaded). */
  start(): void {
    this.post({ v: VERSION, kind: 'step1', from: this.tabId, to: null, stateVector: Y.encodeStateVector(this.options.doc) })
  }

  /** Shares one of this tab's own edits. `relayed`: this tab has an open relay connection. */
  postUpdate(update: Uint8Array, relayed: boolean): void {
    this.post({ v: VERSION, kind: 'update', from: this.tabId, update, relayed })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.channel.onmessage = null
    this.channel.close()
  }

  private receive(data: unknown): void {
    if (this.closed) return
    const message = parseMessage(data)
    // Unknown shapes (e.g. a newer version of the app in another tab) are ignored, not fatal.
    if (message === null || message.from === this.tabId) return
    try {
      switch (message.kind) {
        case 'update':
          this.apply(message.update)
          if (!message.relayed) this.options.onForward(message.update)
          return
        case 'step1': {
          if (message.to !== null && message.to !== this.tabId) return
          const update = Y.encodeStateAsUpdate(this.options.doc, message.stateVector)
          this.post({ v: VERSION, kind: 'step2', from: this.tabId, to: message.from, update })
          // A newcomer's broadcast step1: ask it for what we lack in return (it answers only us).
          if (message.to === null) {
            this.post({ v: VERSION, kind: 'step1', from: this.tabId, to: message.from, stateVector: Y.encodeStateVector(this.options.doc) })
          }
          return
        }
        case 'step2':
          // The answering tab is responsible for sending its own edits to the relay.
          if (message.to === this.tabId) this.apply(message.update)
          return
      }
    } catch (cause) {
      this.options.onError(cause)
    }
  }

  /** Not persisted, not in this tab's ledger, not posted again (see above). */
  private apply(update: Uint8Array): void {
    Y.applyUpdate(this.options.doc, update, CROSS_TAB_ORIGIN)
  }

  private post(message: CrossTabMessage): void {
    if (this.closed) return
    try {
      this.channel.postMessage(message)
    } catch (cause) {
      // Only if the channel broke (closed by the environment); the tab keeps working alone.
      this.options.onError(cause)
    }
  }
}

export const crossTabSharing: CrossTabSharing = {
  available: broadcastChannelAvailable,
  open: (options) => new CrossTab(options)
}

function parseMessage(data: unknown): CrossTabMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const m = data as Record<string, unknown>
  if (m.v !== VERSION || typeof m.from !== 'string') return null
  switch (m.kind) {
    case 'update':
      return m.update instanceof Uint8Array && typeof m.relayed === 'boolean' ? (m as CrossTabMessage) : null
    case 'step1':
      return m.stateVector instanceof Uint8Array && (m.to === null || typeof m.to === 'string') ? (m as CrossTabMessage) : null
    case 'step2':
      return m.update instanceof Uint8Array && typeof m.to === 'string' ? (m as CrossTabMessage) : null
    default:
      return null
  }
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  return c?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}
