/**
 * Feature negotiation on a document socket (PROTOCOL.md, "Hello"): the client
 * offers feature bits, the relay answers with those it also serves. A client
 * without a HELLO speaks plain y-websocket.
 */
import {
  FEATURE_ACKS,
  FEATURE_DS_DIGEST,
  FEATURE_MULTIPLEX,
  PROTOCOL_VERSION,
  encodeMessage,
  type HelloMessage
} from '@meridian/protocol'
import { RelayError } from './errors.js'

/** The relay's side of the negotiation. */
export interface RelayHello {
  nodeId: string
  region: string
  /** Features besides acks and the delete-set digest that this relay serves (the guarantees'), or 0. */
  extraFeatures: number
}

export type HelloOutcome =
  | {
    readonly kind: 'agreed'
    /** The bits both sides speak. */
    readonly features: number
    /** The client's node id, bounded like any string field ('' — none). */
    readonly clientNodeId: string
    /** The relay's HELLO, to send. */
    readonly reply: Uint8Array
  }
  | { readonly kind: 'refused'; readonly error: RelayError }

/** Negotiates a client's HELLO: the agreed features and the reply, or why it is refused. */
export function negotiateHello(hello: HelloMessage, relay: RelayHello): HelloOutcome {
  if (hello.role !== 'client') return refused('relay links use the mesh endpoint')
  return agree(hello, relay, hello.features & (FEATURE_ACKS | FEATURE_DS_DIGEST | relay.extraFeatures))
}

/**
 * The connection-level HELLO of a multiplexed socket: it must offer
 * FEATURE_MULTIPLEX, and only that is agreed there — each document negotiates
 * its own features in the HELLO inside its frames (negotiateHello).
 */
export function negotiateMuxHello(hello: HelloMessage, relay: Omit<RelayHello, 'extraFeatures'>): HelloOutcome {
  if (hello.role !== 'client') return refused('relay links use the mesh endpoint')
  if ((hello.features & FEATURE_MULTIPLEX) === 0) return refused('a multiplexed socket needs FEATURE_MULTIPLEX in its hello')
  return agree(hello, relay, FEATURE_MULTIPLEX)
}

function refused(why: string): HelloOutcome {
  return { kind: 'refused', error: new RelayError('ERR_PROTOCOL', why) }
}

function agree(hello: HelloMessage, relay: Omit<RelayHello, 'extraFeatures'>, features: number): HelloOutcome {
  const reply = encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'relay', nodeId: relay.nodeId, region: relay.region, features })
  // Bounded: the delete log keys a client's departures by it.
  return { kind: 'agreed', features, clientNodeId: hello.nodeId.slice(0, 128), reply }
}
