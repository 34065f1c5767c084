import { describe, expect, it } from 'vitest'
import { signatureHeaders } from '@meridian/relay'
import { loadReadmeVerifier, readmeVerifySnippet } from './helpers/webhook-verify.js'

describe('README webhook verification snippet', () => {
  it('is about ten lines of code', () => {
    expect(readmeVerifySnippet().split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(10)
  })

  it("accepts the relay's signature and rejects a tampered body, a wrong secret, a stale timestamp or a missing header", async () => {
    const verify = await loadReadmeVerifier()
    const secret = 'a-webhook-secret-for-tests'
    const body = JSON.stringify({ doc: 'notes/monday', from: 1, to: 2, changes: [] })
    const nowMs = Date.now()
    const headers = signatureHeaders(secret, body, nowMs)
    expect(verify(secret, body, headers)).toBe(true)
    expect(verify(secret, body.replace('monday', 'tuesday'), headers)).toBe(false)
    expect(verify('another-secret-of-some-length', body, headers)).toBe(false)
    expect(verify(secret, body, { ...headers, 'meridian-signature': headers['meridian-signature'].replace(/.$/, (c) => (c === '0' ? '1' : '0')) })).toBe(false)
    expect(verify(secret, body, { 'meridian-timestamp': headers['meridian-timestamp'] })).toBe(false)
    // Stale: the same signed request replayed ten minutes later.
    expect(verify(secret, body, headers, nowMs / 1000 + 600)).toBe(false)
    const old = signatureHeaders(secret, body, nowMs - 3_600_000)
    expect(verify(secret, body, old)).toBe(false)
  })
})
