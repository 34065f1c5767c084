import { describe, expect, it } from 'vitest'
import { meshHelloProof, meshNonce, verifyMeshHello } from './link-auth.js'

const secret = 'test-cluster-secret-0123456789'
const b = { nodeId: 'b', region: 'us', url: 'ws://b:1', incarnation: 7 }

describe('mesh hello proof', () => {
  it('verifies only for the same nonces, role, identity and secret', () => {
    const asked = meshNonce()
    const own = meshNonce()
    const proof = meshHelloProof(secret, 'dialer', asked, own, b)
    expect(verifyMeshHello(secret, 'dialer', asked, own, b, proof)).toBe(true)
    expect(verifyMeshHello(secret, 'acceptor', asked, own, b, proof)).toBe(false)
    expect(verifyMeshHello(secret, 'dialer', meshNonce(), own, b, proof)).toBe(false)
    expect(verifyMeshHello(secret, 'dialer', asked, meshNonce(), b, proof)).toBe(false)
    expect(verifyMeshHello(secret, 'dialer', asked, own, { ...b, region: 'eu' }, proof)).toBe(false)
    expect(verifyMeshHello(secret, 'dialer', asked, own, { ...b, incarnation: 8 }, proof)).toBe(false)
    expect(verifyMeshHello('another-secret-0123456789', 'dialer', asked, own, b, proof)).toBe(false)
    expect(verifyMeshHello(secret, 'dialer', asked, own, b, proof.subarray(0, 16))).toBe(false)
  })

  it('draws fresh 32-byte nonces', () => {
    const a = meshNonce()
    expect(a.byteLength).toBe(32)
    expect(Buffer.from(a).equals(Buffer.from(meshNonce()))).toBe(false)
  })
})
