import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { accessFor, mintToken, resolveAuthOptions, type ResolvedRelayOptions } from '@meridian/relay'
import { Authenticator, RevocationList, compileGlob, globMatches, matchGlob } from '@meridian/relay/internal'
import { SECRET } from './test-support/helpers.js'

type Jwt = Extract<ResolvedRelayOptions['auth'], { mode: 'jwt' }>
const authenticator = (options: Parameters<typeof resolveAuthOptions>[0]): Authenticator =>
  new Authenticator(resolveAuthOptions(options) as Jwt, new RevocationList())

describe('glob patterns', () => {
  it('matches * within a segment and ** across segments, everything else literally', () => {
    expect(globMatches('team-1/*', 'team-1/board')).toBe(true)
    expect(globMatches('team-1/*', 'team-1/a/b')).toBe(false)
    expect(globMatches('team-1/**', 'team-1/a/b')).toBe(true)
    expect(globMatches('team-1/*', 'team-10/board')).toBe(false)
    expect(globMatches('*', 'a/b')).toBe(false)
    expect(globMatches('**', 'a/b')).toBe(true)
    expect(globMatches('doc', 'doc')).toBe(true)
    expect(globMatches('doc', 'docs')).toBe(false)
    expect(globMatches('a.*', 'abc')).toBe(false) // '.' is literal, not a regex
    expect(globMatches('(a+)+$', '(a+)+$')).toBe(true)
    expect(globMatches('https://*.example.com', 'https://app.example.com')).toBe(true)
    expect(globMatches('https://*.example.com', 'https://evilexample.com')).toBe(false)
  })

  it('agrees with a reference implementation on random inputs', () => {
    const reference = (pattern: string, name: string): boolean => {
      const escaped = pattern.split(/(\*+)/).map((part) => part.startsWith('*')
        ? (part.length > 1 ? '.*' : '[^/]*')
        : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('')
      return new RegExp(`^${escaped}$`, 's').test(name)
    }
    const alphabet = fc.constantFrom('a', 'b', '/', '*', '.')
    fc.assert(fc.property(fc.string({ unit: alphabet, minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', '/', '.'), maxLength: 8 }), (p, n) => {
      expect(globMatches(p, n)).toBe(reference(p, n))
    }), { numRuns: 2000 })
  })

  it('stays fast on patterns that make regular expressions backtrack', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*a*a*a*b')
    const started = performance.now()
    expect(matchGlob(glob, 'a'.repeat(500))).toBe(false)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('grants', () => {
  it('gives the most permissive matching access', async () => {
    const a = authenticator({ mode: 'jwt', secret: SECRET })
    const token = await mintToken({ secret: SECRET, ttlSeconds: 60, docs: [{ pattern: 'team-1/*', access: 'read' }, { pattern: 'team-1/notes', access: 'write' }] })
    const result = await a.verify(token)
    if (!result.ok) throw new Error(result.detail)
    expect(accessFor(result.grants, 'team-1/board')).toBe('read')
    expect(accessFor(result.grants, 'team-1/notes')).toBe('write')
    expect(accessFor(result.grants, 'team-2/board')).toBeNull()
  })
})

describe('token verification', () => {
  it('accepts HS256, EdDSA and ES256 tokens from the configured keys only', async () => {
    const ed = generateKeyPairSync('ed25519')
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const other = generateKeyPairSync('ed25519')
    const a = authenticator({
      mode: 'jwt',
      secret: SECRET,
      publicKeys: [
        ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        JSON.stringify(ec.publicKey.export({ format: 'jwk' }))
      ]
    })
    const docs = [{ pattern: 'x', access: 'write' as const }]
    expect((await a.verify(await mintToken({ secret: SECRET, docs, ttlSeconds: 60 }))).ok).toBe(true)
    expect((await a.verify(await mintToken({ privateKey: ed.privateKey, docs, ttlSeconds: 60 }))).ok).toBe(true)
    expect((await a.verify(await mintToken({ privateKey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), docs, ttlSeconds: 60 }))).ok).toBe(true)
    const forged = await a.verify(await mintToken({ privateKey: other.privateKey, docs, ttlSeconds: 60 }))
    expect(forged).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
    const wrongSecret = await a.verify(await mintToken({ secret: 'another-secret-that-is-32-bytes-long!!', docs, ttlSeconds: 60 }))
    expect(wrongSecret).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
  })

  it('refuses algorithm confusion: alg none, and HS256 signed with a public key', async () => {
    const ed = generateKeyPairSync('ed25519')
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const a = authenticator({ mode: 'jwt', publicKeys: [pem] })
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"docs":[]}').toString('base64url')}.`
    expect(await a.verify(unsigned)).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
    const hsWithPem = await new SignJWT({ docs: [{ pattern: '**', access: 'write' }] })
      .setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(pem))
    expect(await a.verify(hsWithPem)).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
    expect(await a.verify('not.a.jwt')).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
    expect(await a.verify('x'.repeat(20_000))).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
  })

  it('reports expiry apart, honours the clock tolerance and requires exp by default', async () => {
    const strict = authenticator({ mode: 'jwt', secret: SECRET, clockToleranceMs: 0 })
    const lenient = authenticator({ mode: 'jwt', secret: SECRET, clockToleranceMs: 120_000 })
    const expired = await mintToken({ secret: SECRET, docs: [{ pattern: 'x', access: 'read' }], ttlSeconds: 60, nowMs: Date.now() - 90_000 })
    expect(await strict.verify(expired)).toMatchObject({ ok: false, code: 'ERR_AUTH_EXPIRED' })
    expect((await lenient.verify(expired)).ok).toBe(true)
    const noExp = await new SignJWT({ docs: [] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    expect(await strict.verify(noExp)).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
    const badDocs = await new SignJWT({ docs: 'everything' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET))
    expect(await strict.verify(badDocs)).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
  })

  it('checks issuer and audience when configured', async () => {
    const a = authenticator({ mode: 'jwt', secret: SECRET, issuer: 'https://auth.example', audience: 'meridian' })
    const docs = [{ pattern: 'x', access: 'read' as const }]
    expect((await a.verify(await mintToken({ secret: SECRET, docs, ttlSeconds: 60, issuer: 'https://auth.example', audience: 'meridian' }))).ok).toBe(true)
    expect(await a.verify(await mintToken({ secret: SECRET, docs, ttlSeconds: 60, issuer: 'https://evil.example', audience: 'meridian' })))
      .toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
  })

  it('revokes by jti, and by sub for tokens issued up to the revocation (plus the clock tolerance)', async () => {
    const revocations = new RevocationList()
    const a = new Authenticator(resolveAuthOptions({ mode: 'jwt', secret: SECRET }) as Jwt, revocations)
    const docs = [{ pattern: 'x', access: 'read' as const }]
    const t1 = await mintToken({ secret: SECRET, docs, ttlSeconds: 60, jti: 'j1', sub: 'alice', nowMs: Date.now() - 5_000 })
    revocations.revoke({ jti: 'j1' })
    expect(await a.verify(t1)).toMatchObject({ ok: false, code: 'ERR_AUTH_REVOKED' })
    const t2 = await mintToken({ secret: SECRET, docs, ttlSeconds: 60, sub: 'bob', nowMs: Date.now() - 5_000 })
    revocations.revoke({ sub: 'bob' })
    expect(await a.verify(t2)).toMatchObject({ ok: false, code: 'ERR_AUTH_REVOKED' })
    // Dated a little ahead (within the tolerance): still covered by the revocation.
    const t3 = await mintToken({ secret: SECRET, docs, ttlSeconds: 60, sub: 'bob', nowMs: Date.now() + 5_000 })
    expect(await a.verify(t3)).toMatchObject({ ok: false, code: 'ERR_AUTH_REVOKED' })
    // Minted after the revocation and its tolerance: works.
    revocations.revoke({ sub: 'dave' }, Date.now() - 120_000)
    const t4 = await mintToken({ secret: SECRET, docs, ttlSeconds: 60, sub: 'dave' })
    expect((await a.verify(t4)).ok).toBe(true)
    // Dated further ahead than the tolerance: refused outright (it would escape any revocation by subject).
    const t5 = await mintToken({ secret: SECRET, docs, ttlSeconds: 7_200, sub: 'dave', nowMs: Date.now() + 3_600_000 })
    expect(await a.verify(t5)).toMatchObject({ ok: false, code: 'ERR_AUTH_INVALID' })
  })

  it('refuses weak or missing key material at startup', () => {
    expect(() => resolveAuthOptions({ mode: 'jwt', secret: 'short' })).toThrow(/32 bytes/)
    expect(() => resolveAuthOptions({ mode: 'jwt' })).toThrow(/secret or at least one public key/)
    expect(() => resolveAuthOptions({ mode: 'jwt', publicKeys: ['not a key'] })).toThrow(/PEM or JWK/)
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
    expect(() => resolveAuthOptions({ mode: 'jwt', publicKeys: [rsa.publicKey] })).toThrow(/unsupported key type/)
  })
})
