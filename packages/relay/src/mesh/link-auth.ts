import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { MESH_NONCE_BYTES, type MeshMember } from '@meridian/protocol'

/**
 * Informational headers a dialing relay sends on the mesh upgrade (proxies and
 * logs may read them). They prove nothing: a link's identity comes only from
 * the in-band challenge–response below.
 */
export const MESH_HEADERS = {
  nodeId: 'x-meridian-node-id',
  region: 'x-meridian-region'
} as const

/** Which end of a link signs: part of the proof, so an answer cannot be reflected back to the side that asked. */
export type MeshRole = 'dialer' | 'acceptor'

/** A fresh, unpredictable challenge; never reused. */
export function meshNonce(): Uint8Array {
  return new Uint8Array(randomBytes(MESH_NONCE_BYTES))
}

/**
 * The proof a relay sends in its `mesh-hello`: an HMAC with the cluster
 * secret over the nonce the peer just chose (`answering`), the sender's own
 * nonce, its role, and the identity it claims. The peer's fresh nonce makes it
 * useless on any other link, later or to another relay; no clock is involved.
 */
export function meshHelloProof(secret: string, role: MeshRole, answering: Uint8Array, own: Uint8Array, member: MeshMember): Uint8Array {
  const identity = JSON.stringify([member.nodeId, member.region, member.url, member.incarnation])
  const h = createHmac('sha256', secret)
  h.update(`meridian-mesh-hello/2\n${role}\n${Buffer.from(answering).toString('hex')}\n${Buffer.from(own).toString('hex')}\n${identity}`)
  return new Uint8Array(h.digest())
}

/** Checks a peer's hello: `ourNonce` is the challenge this relay sent on this link, `theirNonce` the one it received. */
export function verifyMeshHello(secret: string, senderRole: MeshRole, ourNonce: Uint8Array, theirNonce: Uint8Array, member: MeshMember, proof: Uint8Array): boolean {
  const expected = meshHelloProof(secret, senderRole, ourNonce, theirNonce, member)
  return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected)
}

/** The informational upgrade headers of a dial. */
export function meshDialHeaders(nodeId: string, region: string): Record<string, string> {
  return { [MESH_HEADERS.nodeId]: nodeId, [MESH_HEADERS.region]: region }
}
