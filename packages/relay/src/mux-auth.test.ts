import { afterEach, describe, expect, it } from 'vitest'
import { CLOSE_CODES, FEATURE_MULTIPLEX } from '@meridian/protocol'
import { mintToken, type DocGrant } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { ADMIN, SECRET, metric, relayPool, scrape } from './test-support/helpers.js'
import { MuxClient } from './test-support/mux-client.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const token = (docs: DocGrant[], extra: { ttlSeconds?: number; jti?: string; secret?: string } = {}): Promise<string> =>
  mintToken({ secret: extra.secret ?? SECRET, docs, ttlSeconds: extra.ttlSeconds ?? 300, ...extra })

const jwtRelay = (extra: Parameters<typeof pool.start>[0] = {}) =>
  pool.start({ auth: { mode: 'jwt', secret: SECRET, clockToleranceMs: 0 }, adminToken: ADMIN, ...extra })

const GRANTS: DocGrant[] = [{ pattern: 'team/w-*', access: 'write' }, { pattern: 'team/r-*', access: 'read' }]

/** What the relay holds of `docName` (read with a token for everything). */
async function relayText(url: string, docName: string): Promise<string> {
  const c = await RawClient.connect(url, docName, { query: { token: await token([{ pattern: '**', access: 'read' }]) } })
  c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
  await c.next('sync-step2')
  await c.close()
  return c.doc.getText('t').toString()
}

describe('a multiplexed socket with auth', () => {
  it('checks grants per document: one refused (4403), one read-only with its write refused, one writable; the socket stays', async () => {
    const { url, relay } = await jwtRelay()
    const mux = await MuxClient.connect(url, { query: { token: await token(GRANTS) } })
    await mux.nextOf(null, 'hello')
    mux.open(1, 'team/other')
    mux.open(2, 'team/r-1')
    mux.open(3, 'team/w-1')
    expect(await mux.docClosed(1)).toEqual({ closeCode: CLOSE_CODES.FORBIDDEN, reason: 'ERR_AUTH_FORBIDDEN' })
    mux.edit(3, (d) => d.getText('t').insert(0, 'written'))
    await mux.nextOf(3, 'ack', (m) => m.upTo >= 2)
    await mux.nextOf(2, 'sync-step1')
    mux.edit(2, (d) => d.getText('t').insert(0, 'not allowed'))
    // Refused as on a single-document read-only socket: a non-fatal error, nothing applied, the document stays open.
    expect(await mux.nextOf(2, 'error')).toMatchObject({ code: 'ERR_READ_ONLY', fatal: false })
    expect(await relayText(url, 'team/r-1')).toBe('')
    expect(await relayText(url, 'team/w-1')).toBe('written')
    expect(mux.events.some((e) => e.message.type === 'doc-closed' && e.message.docId !== 1)).toBe(false)
    expect(mux.closeEvent).toBeNull()
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_mux_documents', { access: 'read' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents', { access: 'write' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents_refused_total', { reason: 'forbidden' })).toBe(1)
  })

  it('takes the token as a pre-auth auth-token message, and refuses the socket for a token that does not verify', async () => {
    const { url } = await jwtRelay()
    const viaMessage = await MuxClient.connect(url, { hello: false })
    viaMessage.send({ type: 'auth-token', token: await token(GRANTS) })
    viaMessage.send({ type: 'hello', version: 1, role: 'client', nodeId: '', region: '', features: FEATURE_MULTIPLEX })
    viaMessage.open(1, 'team/w-pre')
    viaMessage.edit(1, (d) => d.getText('t').insert(0, 'pre-auth'))
    await viaMessage.nextOf(1, 'ack', (m) => m.upTo >= 1)

    const forged = await MuxClient.connect(url, { query: { token: await token(GRANTS, { secret: 'x'.repeat(40) }) } })
    expect(await forged.closed()).toEqual({ code: CLOSE_CODES.UNAUTHENTICATED, reason: 'ERR_AUTH_INVALID' })
    const none = await MuxClient.connect(url)
    none.open(1, 'team/w-1')
    expect(await none.closed()).toEqual({ code: CLOSE_CODES.UNAUTHENTICATED, reason: 'ERR_AUTH_REQUIRED' })
  })

  it('re-checks every document on a token refresh: one no longer granted is closed (4403), another gains write', async () => {
    const { url } = await jwtRelay()
    const mux = await MuxClient.connect(url, { query: { token: await token([{ pattern: 'team/*', access: 'read' }]) } })
    mux.open(1, 'team/kept')
    mux.open(2, 'team/dropped')
    await mux.nextOf(1, 'hello')
    await mux.nextOf(2, 'hello')
    mux.send({ type: 'auth-token', token: await token([{ pattern: 'team/kept', access: 'write' }]) })
    expect(await mux.docClosed(2)).toEqual({ closeCode: CLOSE_CODES.FORBIDDEN, reason: 'ERR_AUTH_FORBIDDEN' })
    expect(await mux.nextOf(2, 'error')).toMatchObject({ code: 'ERR_AUTH_FORBIDDEN', fatal: true })
    mux.edit(1, (d) => d.getText('t').insert(0, 'now writable'))
    await mux.nextOf(1, 'ack', (m) => m.upTo >= 2)
    expect(await relayText(url, 'team/kept')).toBe('now writable')
    // New documents follow the new grants.
    mux.open(3, 'team/dropped')
    expect(await mux.docClosed(3)).toEqual({ closeCode: CLOSE_CODES.FORBIDDEN, reason: 'ERR_AUTH_FORBIDDEN' })
    expect(mux.closeEvent).toBeNull()

    // A refreshed token that does not verify ends the socket, as on a single-document one.
    mux.send({ type: 'auth-token', token: await token([{ pattern: '**', access: 'write' }], { secret: 'y'.repeat(40) }) })
    expect(await mux.closed()).toEqual({ code: CLOSE_CODES.UNAUTHENTICATED, reason: 'ERR_AUTH_INVALID' })
  })

  it('closes the socket when its token is revoked (4412)', async () => {
    const { url, relay } = await jwtRelay()
    const mux = await MuxClient.connect(url, { query: { token: await token(GRANTS, { jti: 'mux-1' }) } })
    mux.open(1, 'team/w-rev')
    await mux.nextOf(1, 'sync-step1')
    expect(relay.revokeTokens({ jti: 'mux-1' })).toBe(1)
    expect(await mux.closed()).toEqual({ code: CLOSE_CODES.TOKEN_REVOKED, reason: 'ERR_AUTH_REVOKED' })
    await expect.poll(async () => metric(await scrape(relay), 'meridian_relay_mux_documents')).toBe(0)
  })
})
