import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { CLOSE_CODES, mintToken, type DocGrant } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { ADMIN, SECRET, metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const token = (docs: DocGrant[], extra: { ttlSeconds?: number; nowMs?: number; sub?: string; jti?: string; secret?: string } = {}): Promise<string> =>
  mintToken({ secret: extra.secret ?? SECRET, docs, ttlSeconds: extra.ttlSeconds ?? 300, ...extra })

const jwtRelay = (extra: Parameters<typeof pool.start>[0] = {}) =>
  pool.start({ auth: { mode: 'jwt', secret: SECRET, clockToleranceMs: 0 }, adminToken: ADMIN, preAuth: { timeoutMs: 2_000 }, ...extra })

/** A writer with a valid token proves the relay still serves documents. */
async function assertHealthy(url: string, docName = 'health-check'): Promise<void> {
  const w = await RawClient.connect(url, docName, { query: { token: await token([{ pattern: docName, access: 'write' }]) } })
  w.edit((d) => d.getMap('m').set('ok', true))
  await w.next('ack', (m) => m.upTo >= 2)
  await w.close()
}

describe('authentication in the upgrade', () => {
  it('refuses no token, a forged signature, an expired token and a token for another document, each with its code', async () => {
    const { url, relay } = await jwtRelay()

    const noToken = await RawClient.connect(url, 'team-1/a', { hello: false })
    noToken.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    expect(await noToken.closed()).toEqual({ code: CLOSE_CODES.UNAUTHENTICATED, reason: 'ERR_AUTH_REQUIRED' })

    const forged = await RawClient.connect(url, 'team-1/a', { query: { token: await token([{ pattern: '**', access: 'write' }], { secret: 'x'.repeat(40) }) } })
    expect(await forged.closed()).toEqual({ code: CLOSE_CODES.UNAUTHENTICATED, reason: 'ERR_AUTH_INVALID' })

    const tampered = (await token([{ pattern: 'team-1/*', access: 'read' }])).split('.')
    const payload = Buffer.from(JSON.stringify({ docs: [{ pattern: '**', access: 'write' }], exp: 9_999_999_999 })).toString('base64url')
    const escalated = await RawClient.connect(url, 'team-1/a', { query: { token: `${tampered[0]}.${payload}.${tampered[2]}` } })
    expect((await escalated.closed()).code).toBe(CLOSE_CODES.UNAUTHENTICATED)

    const expired = await RawClient.connect(url, 'team-1/a', { query: { token: await token([{ pattern: 'team-1/*', access: 'write' }], { ttlSeconds: 10, nowMs: Date.now() - 60_000 }) } })
    expect(await expired.closed()).toEqual({ code: CLOSE_CODES.TOKEN_EXPIRED, reason: 'ERR_AUTH_EXPIRED' })

    const otherDoc = await RawClient.connect(url, 'team-2/b', { query: { token: await token([{ pattern: 'team-1/*', access: 'write' }]) } })
    expect(await otherDoc.closed()).toEqual({ code: CLOSE_CODES.FORBIDDEN, reason: 'ERR_AUTH_FORBIDDEN' })
    // None of them got to see the document: the relay sends its sync step 1 only to admitted connections.
    for (const c of [noToken, forged, escalated, expired, otherDoc]) expect(c.received).toEqual([])
    expect(relay.rooms.loadedCount).toBe(0)

    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'no_token' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'invalid_token' })).toBe(2)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'expired' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'forbidden' })).toBe(1)
    await assertHealthy(url)
  })

  it('accepts the token as ?token=, as an Authorization header, or as the first auth message', async () => {
    const { url } = await jwtRelay()
    const t = await token([{ pattern: 'team-1/*', access: 'write' }])
    const viaQuery = await RawClient.connect(url, 'team-1/a', { query: { token: t } })
    const viaHeader = await RawClient.connect(url, 'team-1/a', { headers: { authorization: `Bearer ${t}` } })
    const viaMessage = await RawClient.connect(url, 'team-1/a', { hello: false })
    viaMessage.send({ type: 'auth-token', token: t })
    // Pipelined before the token is verified: kept and handled once it is.
    viaMessage.send({ type: 'hello', version: 1, role: 'client', nodeId: '', region: '', features: 1 })
    viaMessage.edit((d) => d.getText('t').insert(0, 'via message'))
    await viaMessage.next('ack', (m) => m.upTo >= 1)
    // A Meridian client may say hello before its token; the hello is answered once the token is accepted.
    const helloFirst = await RawClient.connect(url, 'team-1/a')
    helloFirst.send({ type: 'auth-token', token: t })
    expect((await helloFirst.next('hello')).role).toBe('relay')
    await helloFirst.next('sync-step1')
    await viaQuery.next('sync-update')
    await viaHeader.next('sync-update')
    expect(viaQuery.doc.getText('t').toString()).toBe('via message')
  })

  it('refuses a bad token in the auth message, and a flood or silence before it, within the pre-auth budget', async () => {
    const { url, relay } = await jwtRelay({ preAuth: { maxFrames: 4, maxBytes: 4096, timeoutMs: 300 } })
    const bad = await RawClient.connect(url, 'team-1/a', { hello: false })
    bad.send({ type: 'auth-token', token: 'garbage' })
    expect((await bad.closed()).code).toBe(CLOSE_CODES.UNAUTHENTICATED)

    const flood = await RawClient.connect(url, 'team-1/a')
    for (let i = 0; i < 10; i++) flood.send({ type: 'hello', version: 1, role: 'client', nodeId: `n${i}`, region: '', features: 0 })
    expect(await flood.closed()).toEqual({ code: CLOSE_CODES.AUTH_TIMEOUT, reason: 'ERR_AUTH_TIMEOUT' })

    const big = await RawClient.connect(url, 'team-1/a', { hello: false })
    big.send({ type: 'hello', version: 1, role: 'client', nodeId: 'x'.repeat(5000), region: '', features: 0 })
    expect((await big.closed()).code).toBe(CLOSE_CODES.AUTH_TIMEOUT)

    const garbage = await RawClient.connect(url, 'team-1/a', { hello: false })
    garbage.sendRaw(new Uint8Array([0xff, 0xff, 0xff]))
    expect((await garbage.closed()).code).toBe(CLOSE_CODES.INVALID_MESSAGE)

    const text = await RawClient.connect(url, 'team-1/a', { hello: false })
    text.sendRaw('{"token":"x"}')
    expect((await text.closed()).code).toBe(CLOSE_CODES.UNSUPPORTED_DATA)

    const silent = await RawClient.connect(url, 'team-1/a', { hello: false })
    expect(await silent.closed()).toEqual({ code: CLOSE_CODES.AUTH_TIMEOUT, reason: 'ERR_AUTH_TIMEOUT' })
    expect(relay.rooms.loadedCount).toBe(0)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_rejected_messages_total', { reason: 'pre_auth_budget' })).toBe(2)
    await assertHealthy(url)
  })

  it('refuses an Origin outside the allow-list; requests without one (not browsers) pass', async () => {
    const { url } = await jwtRelay({ allowedOrigins: ['https://app.example.com', 'https://*.preview.example.com'] })
    const t = await token([{ pattern: '**', access: 'write' }])
    const evil = await RawClient.connect(url, 'doc', { query: { token: t }, headers: { origin: 'https://evil.example' } })
    expect(await evil.closed()).toEqual({ code: CLOSE_CODES.ORIGIN_NOT_ALLOWED, reason: 'ERR_ORIGIN' })
    const good = await RawClient.connect(url, 'doc', { query: { token: t }, headers: { origin: 'https://pr-7.preview.example.com' } })
    await good.next('sync-step1')
    const noOrigin = await RawClient.connect(url, 'doc', { query: { token: t } })
    await noOrigin.next('sync-step1')
    expect(good.closeEvent).toBeNull()
  })
})

describe('read-only connections', () => {
  it('never apply or broadcast a read-only client update, tell it so, and keep it reading', async () => {
    const { url, storage, relay } = await jwtRelay()
    const writer = await RawClient.connect(url, 'board', { query: { token: await token([{ pattern: 'board', access: 'write' }]) } })
    writer.edit((d) => d.getText('t').insert(0, 'shared'))
    await writer.next('ack', (m) => m.upTo >= 2)

    const reader = await RawClient.connect(url, 'board', { query: { token: await token([{ pattern: 'board', access: 'read' }]) } })
    // Its handshake reply (nothing new) is fine and even acknowledged.
    await reader.next('ack', (m) => m.upTo >= 1)
    await reader.next('sync-step1')
    reader.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(reader.doc) })
    await reader.next('sync-step2')
    expect(reader.doc.getText('t').toString()).toBe('shared')

    reader.edit((d) => d.getText('t').insert(0, 'vandal '))
    reader.edit((d) => d.getText('t').delete(0, 3))
    const refused = await reader.next('error', (m) => m.code === 'ERR_READ_ONLY')
    expect(refused.fatal).toBe(false)
    // The writer keeps writing; the reader receives it, and its own edits went nowhere.
    writer.edit((d) => d.getMap('m').set('after', 1))
    await reader.next('sync-update')
    await writer.next('ack', (m) => m.upTo >= 3)
    expect(writer.received.filter((m) => m.type === 'sync-update')).toHaveLength(0)
    expect(relay.rooms.getLoaded('board')?.doc.getText('t').toString()).toBe('shared')
    const stored = await storage.load('board')
    const check = new Y.Doc()
    for (const u of stored?.updates ?? []) Y.applyUpdate(check, u.data)
    expect(check.getText('t').toString()).toBe('shared')
    // Acks are cumulative: nothing from the first refused message on is ever acknowledged.
    expect(Math.max(...reader.received.flatMap((m) => (m.type === 'ack' ? [m.upTo] : [])))).toBe(1)
    expect(reader.closeEvent).toBeNull()

    // A plain y-websocket client gets the y-protocols permission-denied message instead.
    const plain = await RawClient.connect(url, 'board', { hello: false, query: { token: await token([{ pattern: 'board', access: 'read' }]) } })
    await plain.next('sync-step1')
    plain.edit((d) => d.getText('t').insert(0, 'x'))
    expect((await plain.next('auth-denied')).reason).toBe('read-only')

    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_rejected_messages_total', { reason: 'read_only' })).toBe(3)
    expect(metric(m, 'meridian_relay_connections', { access: 'read' })).toBe(2)
  })

  it('limits a read-only connection\'s awareness to one client id of its own', async () => {
    const { url } = await jwtRelay()
    const writer = await RawClient.connect(url, 'aw', { query: { token: await token([{ pattern: 'aw', access: 'write' }]) } })
    const writerAwareness = new awarenessProtocol.Awareness(writer.doc)
    writerAwareness.setLocalState({ name: 'writer' })
    writer.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(writerAwareness, [writer.doc.clientID]) })
    const reader = await RawClient.connect(url, 'aw', { query: { token: await token([{ pattern: 'aw', access: 'read' }]) } })
    await reader.next('awareness')

    // The reader claims its own id, then tries to overwrite the writer's state and add a third id.
    const own = new awarenessProtocol.Awareness(reader.doc)
    own.setLocalState({ name: 'reader' })
    reader.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(own, [reader.doc.clientID]) })
    const spoof = new awarenessProtocol.Awareness(new Y.Doc())
    spoof.clientID = writer.doc.clientID
    spoof.setLocalState({ name: 'hacked' })
    spoof.setLocalState({ name: 'hacked!' }) // clock 2: newer than the writer's
    reader.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(spoof, [writer.doc.clientID]) })
    reader.send({ type: 'query-awareness' })
    // The relay answers query-awareness with the full state; after the spoof was handled (messages are in order).
    const writerView = new awarenessProtocol.Awareness(new Y.Doc())
    await writer.next('awareness', (m) => {
      awarenessProtocol.applyAwarenessUpdate(writerView, m.update, 'remote')
      return writerView.getStates().get(reader.doc.clientID)?.name === 'reader'
    })
    const full = await reader.next('awareness', (m) => {
      const view = new awarenessProtocol.Awareness(new Y.Doc())
      awarenessProtocol.applyAwarenessUpdate(view, m.update, 'remote')
      return view.getStates().has(reader.doc.clientID) && view.getStates().has(writer.doc.clientID)
    })
    const view = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(view, full.update, 'remote')
    expect(view.getStates().get(writer.doc.clientID)).toEqual({ name: 'writer' })
    expect(reader.closeEvent).toBeNull()
  })
})

describe('live tokens', () => {
  it('closes a connection when its token expires (4411) and when it is revoked (4412); refreshes extend and change access', async () => {
    const { url, relay } = await jwtRelay()
    // exp is in whole seconds: this token expires one to two seconds from now.
    const shortLived = await token([{ pattern: 'live', access: 'write' }], { ttlSeconds: 60, nowMs: Date.now() - 58_500 })
    const expiring = await RawClient.connect(url, 'live', { query: { token: shortLived } })
    await expiring.next('sync-step1')
    const byJti = await RawClient.connect(url, 'live', { query: { token: await token([{ pattern: 'live', access: 'write' }], { jti: 'jti-1', sub: 'carol' }) } })
    const bySub = await RawClient.connect(url, 'live', { query: { token: await token([{ pattern: 'live', access: 'write' }], { sub: 'mallory', nowMs: Date.now() - 1_000 }) } })
    await byJti.next('sync-step1')
    await bySub.next('sync-step1')

    const refreshed = await RawClient.connect(url, 'live', { query: { token: shortLived } })
    await refreshed.next('sync-step1')
    refreshed.send({ type: 'auth-token', token: await token([{ pattern: 'live', access: 'read' }], { ttlSeconds: 300 }) })

    const unauthorized = await relay.app.inject({ method: 'POST', url: '/v1/revocations', payload: { jti: 'jti-1' } })
    expect(unauthorized.statusCode).toBe(401)
    const revoke = await relay.app.inject({ method: 'POST', url: '/v1/revocations', headers: { authorization: `Bearer ${ADMIN}` }, payload: { jti: 'jti-1' } })
    expect(revoke.json()).toMatchObject({ closedConnections: 1 })
    expect(await byJti.closed()).toEqual({ code: CLOSE_CODES.TOKEN_REVOKED, reason: 'ERR_AUTH_REVOKED' })
    expect(byJti.received.some((m) => m.type === 'error' && m.code === 'ERR_AUTH_REVOKED')).toBe(true)
    expect(relay.revokeTokens({ sub: 'mallory' })).toBe(1)
    expect((await bySub.closed()).code).toBe(CLOSE_CODES.TOKEN_REVOKED)
    // A revoked token cannot come back either.
    const again = await RawClient.connect(url, 'live', { query: { token: await token([{ pattern: 'live', access: 'write' }], { jti: 'jti-1' }) } })
    expect((await again.closed()).code).toBe(CLOSE_CODES.TOKEN_REVOKED)

    expect(await expiring.closed(4_000)).toEqual({ code: CLOSE_CODES.TOKEN_EXPIRED, reason: 'ERR_AUTH_EXPIRED' })
    expect(expiring.received.some((m) => m.type === 'error' && m.code === 'ERR_AUTH_EXPIRED')).toBe(true)
    // The refreshed connection outlived its first token, now with read access only.
    refreshed.edit((d) => d.getMap('m').set('k', 1))
    await refreshed.next('error', (m) => m.code === 'ERR_READ_ONLY')
    expect(refreshed.closeEvent).toBeNull()
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'expired' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'revoked' })).toBe(2)
  })
})

describe('tokens never reach the logs', () => {
  it('keeps every token out of every log line, whatever path it came by', async () => {
    const { url, logs, relay } = await jwtRelay({ captureLogs: true })
    const valid = await token([{ pattern: 'doc', access: 'write' }])
    const forged = await token([{ pattern: '**', access: 'write' }], { secret: 'y'.repeat(40) })
    const c = await RawClient.connect(url, 'doc', { query: { token: valid } })
    c.edit((d) => d.getText('t').insert(0, 'x'))
    await c.next('ack', (m) => m.upTo >= 2)
    const f = await RawClient.connect(url, 'doc', { query: { token: forged, other: '1' } })
    await f.closed()
    const forbidden = await RawClient.connect(url, 'elsewhere', { query: { token: valid } })
    await forbidden.closed()
    const viaMessage = await RawClient.connect(url, 'doc', { hello: false })
    viaMessage.send({ type: 'auth-token', token: forged })
    await viaMessage.closed()
    // Upgrades and requests to paths that are not documents, with tokens in them.
    const reserved = await RawClient.connect(url, 'healthz', { query: { token: valid } })
    await reserved.closed()
    await relay.app.inject({ method: 'POST', url: `/nowhere?token=${valid}` })
    await relay.app.inject({ url: `/v1/status?token=${valid}` })
    await c.close()
    // The reserved-path upgrade is logged with its path by @fastify/websocket: stripped of the token before.
    expect(logs.some((l) => l.includes('"path":"/healthz"'))).toBe(true)
    expect(logs.length).toBeGreaterThan(5)
    for (const line of logs) {
      expect(line).not.toContain(valid)
      expect(line).not.toContain(forged)
      expect(line).not.toContain(valid.split('.')[2])
    }
  })
})

describe('/v1/status', () => {
  it('needs the admin token when auth is on, and shows registered sections', async () => {
    const { relay } = await jwtRelay()
    expect((await relay.app.inject({ url: '/v1/status' })).statusCode).toBe(401)
    expect((await relay.app.inject({ url: '/v1/status', headers: { authorization: 'Bearer wrong-token-0000000' } })).statusCode).toBe(401)
    relay.registerStatusSection('policy', () => ({ mode: 'healthy' }))
    expect(() => relay.registerStatusSection('policy', () => ({}))).toThrow()
    const res = await relay.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${ADMIN}` } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      relay: { nodeId: 'test-1', region: 'eu' },
      auth: { mode: 'jwt' },
      connections: { open: 0 },
      documents: { loaded: 0 },
      policy: { mode: 'healthy' }
    })
  })
})
