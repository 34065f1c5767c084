/** What a relay link reports to the provider, and asks of it (see relay-link.ts). */
import type { StatusFields } from '@meridian/protocol'
import type { MeridianError } from './errors.js'

export interface RelayInfo {
  readonly url: string
  readonly nodeId: string
  readonly region: string
  readonly version: number
  readonly features: number
}

/**
 * Everything a link reports, in order, through one `onEvent`; the provider
 * handles them in one exhaustive switch.
 */
export type LinkEvent =
  | { readonly type: 'open' }
  /**
   * The first sync round of this connection completed: the client then held
   * everything the relay held when it received our step 1, sent at `syncAtMs`.
   */
  | { readonly type: 'synced'; readonly syncAtMs: number }
  /**
   * After the first round: the relay answered a message we sent at `syncAtMs`
   * (a probe's step 1, an update's ack), so everything it held then is here — one
   * ordered socket. Only ever moves forward.
   */
  | { readonly type: 'sync-point'; readonly syncAtMs: number }
  /** Every write with seq <= `seq` is committed by the relay. */
  | { readonly type: 'acknowledged'; readonly seq: number }
  /** Every write with seq <= `seq` is held by at least `regions` other regions. */
  | { readonly type: 'replicated'; readonly regions: number; readonly seq: number }
  /**
   * The relay's report of what it can promise for this document. `reportAtMs`: a
   * local time at or before the relay sent it — the latest answered send time, or
   * before the first round completes (`roundDone` false) the connection attempt's start.
   */
  | { readonly type: 'status'; readonly status: StatusFields; readonly reportAtMs: number; readonly roundDone: boolean }
  | { readonly type: 'relay'; readonly info: RelayInfo }
  | { readonly type: 'awareness'; readonly update: Uint8Array }
  /** An update from the relay to apply; its handler may throw on garbage (the link then closes). */
  | { readonly type: 'remote-update'; readonly update: Uint8Array }
  | { readonly type: 'error'; readonly error: MeridianError }
  /** An update-bearing message larger than `maxFrameBytes` was not sent (the relay would close the connection). */
  | { readonly type: 'frame-too-large'; readonly bytes: number }
  /** The last event of a link, exactly once. */
  | { readonly type: 'close'; readonly wasOpen: boolean; readonly code: number | null; readonly reason: string }

/** What a link asks of the provider while it runs. */
export interface LinkHost {
  /** The newest write's seq: what an update sent now covers. */
  highWaterMark(): number
  /** Read-only documents get no step 2 from us: the relay would refuse the writes in it. */
  writable(): boolean
  /** What a relay at `stateVector` lacks of ours (without writes held back: see WriteGate). */
  encodeDiff(stateVector: Uint8Array, digest: boolean): Uint8Array
  /** Deletes the digest exchange would send, without those held back (null: none left). */
  sendableDeletes(update: Uint8Array): Uint8Array | null
  localAwareness(): Uint8Array | null
}
