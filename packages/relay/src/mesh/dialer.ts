import type { Logger } from 'pino'
import WebSocket from 'ws'
import type { MeshMember } from '@meridian/protocol'
import type { DialSocket, RelaySocket } from '../transport.js'
import { meshDialHeaders } from './link-auth.js'
import type { MemberRecord } from './membership.js'
import type { ResolvedMeshOptions } from './options.js'

const dialWs: DialSocket = (url, o) => new WebSocket(url, { headers: o.headers, handshakeTimeout: o.handshakeTimeoutMs, maxPayload: o.maxPayload, perMessageDeflate: false })

/**
 * Who this relay dials, and when: configured seeds, and members known by
 * gossip or from storage (hints: the relay at such a URL must prove the node
 * id it was dialed for). Redials back off exponentially with jitter.
 */
export class MeshDialer {
  private readonly dialing = new Set<string>()
  private readonly redial = new Map<string, { attempt: number; notBeforeMs: number }>()
  /** Seed URL → the node that proved itself there. */
  private readonly seedOwners = new Map<string, string>()

  constructor(private readonly o: {
    options: ResolvedMeshOptions
    self: MeshMember
    path: string
    maxMessageBytes: number
    random: () => number
    logger: Logger
    isLinked: (nodeId: string) => boolean
    adopt: (socket: RelaySocket, url: string, expectedNodeId: string | null) => void
  }) {}

  /** A link dialed to `url` proved `nodeId`. */
  linked(url: string, nodeId: string): void {
    this.seedOwners.set(url, nodeId)
    if (nodeId !== this.o.self.nodeId) this.redial.delete(url)
  }

  dialMissing(members: readonly MemberRecord[], now: number): void {
    const self = this.o.self
    // URL → the node id its handshake must prove (null for a configured seed: whoever proves the secret).
    const targets = new Map<string, string | null>()
    // Seeds are dialed whenever their owner is not linked, whichever id is smaller: after the other relays
    // restart, a seed may be the only way back in (nobody remembers this relay to dial it). Duplicates are resolved in onHello.
    for (const seed of this.o.options.peers) {
      const owner = this.seedOwners.get(seed)
      if (owner === undefined || (owner !== self.nodeId && !this.o.isLinked(owner))) targets.set(seed, null)
    }
    // Between known members only the smaller node id dials, so a pair does not race to two links.
    for (const m of members) {
      if (!m.self && self.nodeId < m.nodeId && !this.o.isLinked(m.nodeId) && !targets.has(m.url)) targets.set(m.url, m.nodeId)
    }
    for (const [url, expected] of targets) {
      const backoff = this.redial.get(url)
      if (this.dialing.has(url) || (backoff !== undefined && backoff.notBeforeMs > now)) continue
      this.dial(url, expected, now)
    }
  }

  private dial(url: string, expectedNodeId: string | null, now: number): void {
    const { options } = this.o
    this.dialing.add(url)
    const prev = this.redial.get(url)?.attempt ?? 0
    const delay = Math.min(options.redialMaxDelayMs, options.redialInitialDelayMs * 2 ** prev)
    this.redial.set(url, { attempt: prev + 1, notBeforeMs: now + delay / 2 + this.o.random() * (delay / 2) })
    const socket = (options.dial ?? dialWs)(url.replace(/\/+$/, '') + this.o.path, {
      headers: meshDialHeaders(this.o.self.nodeId, this.o.self.region),
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxPayload: this.o.maxMessageBytes
    })
    const done = (): void => {
      this.dialing.delete(url)
    }
    socket.once('open', done)
    socket.once('close', done)
    socket.once('error', (err) => {
      done()
      this.o.logger.debug({ err, url }, 'mesh dial failed')
    })
    this.o.adopt(socket, url, expectedNodeId)
  }
}
