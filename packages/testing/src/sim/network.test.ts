import { describe, expect, it } from 'vitest'
import type { RelaySocket, UpgradeInfo } from '@meridian/relay'
import { SimNetwork } from './network.js'
import { Scheduler } from './scheduler.js'

/** A network with one "relay" node that records what reaches it and echoes each message back. */
function setup(latencyMs: readonly [number, number] = [5, 5]) {
  const scheduler = new Scheduler()
  const network = new SimNetwork(scheduler, { seed: 1, latencyMs, trace: true })
  const server: { socket: RelaySocket | null; upgrade: UpgradeInfo | null; got: string[]; closed: number[] } = { socket: null, upgrade: null, got: [], closed: [] }
  network.addNode('r', 'relay', 'r.sim', async (socket, upgrade) => {
    server.socket = socket
    server.upgrade = upgrade
    socket.on('message', (data) => {
      const text = Buffer.from(data as Buffer).toString()
      server.got.push(text)
      socket.send(new TextEncoder().encode(`echo ${text}`), { binary: true })
    })
    socket.on('close', (code) => server.closed.push(code))
  })
  network.addNode('c', 'client', null)
  const runAll = async (): Promise<void> => {
    for (let i = 0; i < 10_000 && (await scheduler.step()); i++);
  }
  return { scheduler, network, server, runAll }
}

function client(network: SimNetwork) {
  const socket = network.browserSocket('c', 'ws://r.sim/doc?x=1')
  const events: string[] = []
  socket.onopen = () => events.push('open')
  socket.onmessage = (ev) => events.push(new TextDecoder().decode(ev.data as ArrayBuffer))
  socket.onclose = (ev) => events.push(`close ${ev.code}`)
  return { socket, events }
}

describe('simulated network', () => {
  it('connects after one latency, passes the path and keeps each direction in order', async () => {
    const { network, server, runAll, scheduler } = setup([1, 20])
    const c = client(network)
    await runAll()
    expect(c.events).toEqual(['open'])
    expect(server.upgrade?.url).toBe('/doc?x=1')
    for (const m of ['a', 'b', 'c', 'd']) c.socket.send(new TextEncoder().encode(m))
    await runAll()
    // Jittered latency never reorders a direction.
    expect(server.got).toEqual(['a', 'b', 'c', 'd'])
    expect(c.events.slice(1)).toEqual(['echo a', 'echo b', 'echo c', 'echo d'])
    expect(scheduler.elapsedMs).toBeGreaterThan(0)
  })

  it('a partition drops frames; the broken connection is reset when healed; a one-way cut drops only one way', async () => {
    const { network, server, runAll } = setup()
    const c = client(network)
    await runAll()
    network.block('c', 'r')
    c.socket.send(new TextEncoder().encode('lost'))
    await runAll()
    expect(server.got).toEqual([])
    // The relay's frames still reach the client (one-way cut).
    server.socket?.send(new TextEncoder().encode('still here'), { binary: true })
    await runAll()
    expect(c.events).toContain('still here')
    network.heal()
    await runAll()
    expect(c.events.at(-1)).toBe('close 1006')
    expect(server.closed).toEqual([1006])
  })

  it('refuses connections across a cut and to a crashed node; a close waits for the heal', async () => {
    const { network, server, runAll } = setup()
    network.block('r', 'c')
    const refused = client(network)
    await runAll()
    expect(refused.events).toEqual(['close 1006'])
    network.heal()
    const c = client(network)
    await runAll()
    network.block('r', 'c')
    server.socket?.close(4000, 'bye')
    await runAll()
    expect(c.events).toEqual(['open'])
    network.heal()
    await runAll()
    expect(c.events).toEqual(['open', 'close 4000'])
    const later = client(network)
    await runAll()
    network.setAcceptor('r', null)
    network.crash('r')
    await runAll()
    expect(later.events).toEqual(['open', 'close 1006'])
    const again = client(network)
    await runAll()
    expect(again.events).toEqual(['close 1006'])
  })
})
