import { describe, expect, it } from 'vitest'
import type { PartitionDirection } from './fault-proxy.js'
import { until, startTarget, startProxy, dial, upgradeRequest, dialAs } from './fault-proxy.test-helper.js'

describe('fault proxy', () => {
  it('passes bytes through both ways and counts them', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    expect(proxy.url).toBe(`ws://127.0.0.1:${proxy.port}`)

    const client = await dial(proxy)
    client.socket.write('hello')
    const server = await target.next()
    await server.waitForText('hello')
    server.socket.write('world!')
    await client.waitForText('world!')

    expect(proxy.connections).toEqual([{ id: 1, peer: null, region: null, bytesToTarget: 5, bytesFromTarget: 6 }])
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesToTarget: 5, bytesFromTarget: 6, droppedBytes: 0 })
  })

  it('identifies the dialer from x-meridian-node-id and forwards the request unchanged', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)

    // Relay: head split across writes mid-header, with protocol bytes right after the head.
    const relay = await dial(proxy)
    const head = upgradeRequest('eu-1')
    const sent = head + 'first-frame'
    relay.socket.write(sent.slice(0, 10))
    const relayServer = await target.next()
    relay.socket.write(sent.slice(10, 100))
    relay.socket.write(sent.slice(100))
    await relayServer.waitForText(sent)

    // HTTP client without the header, and a non-HTTP client.
    const { server: anonServer } = await dialAs(proxy, target, null)
    const raw = await dial(proxy)
    raw.socket.write('\x00\x01binary')
    const rawServer = await target.next()
    await rawServer.waitForText('\x00\x01binary')
    expect(anonServer.text).toBe(upgradeRequest(null))

    expect(proxy.connections.map((c) => [c.peer, c.region])).toEqual([
      ['eu-1', 'eu'],
      [null, null],
      [null, null]
    ])
  })

  it('does not hold back a target that speaks first, nor an oversized head', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)

    const quiet = await dial(proxy)
    const quietServer = await target.next()
    quietServer.socket.write('220 greetings\r\n')
    await quiet.waitForText('220 greetings\r\n')

    // Looks like HTTP but no CRLFCRLF within 16 KiB: forwarded as is, unidentified.
    const big = await dial(proxy)
    const junk = 'GET /' + 'a'.repeat(17 * 1024)
    big.socket.write(junk)
    const bigServer = await target.next()
    await bigServer.waitForText(junk)
    expect(proxy.connections.map((c) => c.peer)).toEqual([null, null])
  })

  it("partition 'both' blackholes an existing connection; heal restores new bytes on the same connection", async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server, head } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1')
    client.socket.write('lost-a')
    server.socket.write('lost-b')
    await until(() => proxy.stats.droppedBytes === 12, '12 dropped bytes')
    await Promise.all([client.expectNothingNew(), server.expectNothingNew()])
    expect(client.closed || server.closed).toBe(false) // sockets stay open, like a real partition

    proxy.heal('eu-1')
    client.socket.write('after')
    server.socket.write('back')
    await server.waitForText(head + 'after') // dropped bytes are gone for good
    await client.waitForText('back')
    expect(proxy.stats.droppedBytes).toBe(12)
    expect(proxy.connections[0]).toMatchObject({ peer: 'eu-1', bytesToTarget: head.length + 5, bytesFromTarget: 4 })
  })

  it.each<[PartitionDirection, boolean, boolean]>([
    ['to-target', true, false],
    ['from-target', false, true]
  ])("partition '%s' drops only that direction", async (direction, dropsToTarget, dropsFromTarget) => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server, head } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1', direction)
    client.socket.write('up-1')
    server.socket.write('down-1')
    const dropped = (dropsToTarget ? 4 : 0) + (dropsFromTarget ? 6 : 0)
    await until(() => proxy.stats.droppedBytes === dropped, `${dropped} dropped bytes`)
    if (dropsToTarget) await client.waitForText('down-1')
    else await server.waitForText(head + 'up-1')
    // The blocked direction: its bytes were counted as dropped, so they can never arrive.
    if (dropsToTarget) expect(server.text).toBe(head)
    else expect(client.text).toBe('')

    proxy.heal()
    client.socket.write('up-2')
    server.socket.write('down-2')
    await server.waitForText(head + (dropsToTarget ? '' : 'up-1') + 'up-2')
    await client.waitForText((dropsFromTarget ? '' : 'down-1') + 'down-2')
  })

  it("matches rules to the dialer; '*' matches everyone including unidentified connections", async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const eu = await dialAs(proxy, target, 'eu-1')
    const us = await dialAs(proxy, target, 'us-1')
    const anon = await dialAs(proxy, target, null)

    proxy.partition('eu-1')
    for (const c of [eu, us, anon]) c.client.socket.write('x')
    await us.server.waitForText(us.head + 'x')
    await anon.server.waitForText(anon.head + 'x')
    await until(() => proxy.stats.droppedBytes === 1, 'eu-1 byte dropped')
    expect(eu.server.text).toBe(eu.head)

    proxy.heal('eu-1')
    proxy.partition('*')
    for (const c of [eu, us, anon]) c.client.socket.write('y')
    await until(() => proxy.stats.droppedBytes === 4, 'every byte dropped')
    expect([eu, us, anon].map((c) => c.server.text)).toEqual([eu.head, us.head + 'x', anon.head + 'x'])

    proxy.heal()
    for (const c of [eu, us, anon]) c.client.socket.write('z')
    await eu.server.waitForText(eu.head + 'z')
    await us.server.waitForText(us.head + 'xz')
    await anon.server.waitForText(anon.head + 'xz')
  })

  it('accepts new connections from a partitioned peer but blackholes their bytes', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    proxy.partition('eu-1')

    const client = await dial(proxy) // TCP accept succeeds
    const head = upgradeRequest('eu-1')
    client.socket.write(head)
    const server = await target.next()
    await until(() => proxy.stats.droppedBytes === head.length, 'request head dropped')
    expect(proxy.connections[0]?.peer).toBe('eu-1')
    server.socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n')
    await until(() => proxy.stats.droppedBytes > head.length, 'response dropped')
    expect(server.text).toBe('')
    expect(client.text).toBe('')

    proxy.heal()
    client.socket.write('ping')
    await server.waitForText('ping')
  })

  it('holds an end of stream (FIN) in a partitioned direction until heal', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1', 'to-target')
    client.socket.end()
    await server.expectNothingNew() // bounded window: the FIN must not get through
    proxy.heal()
    await server.waitFor((c) => c.ended, 'end at the target after heal')
  })
})
