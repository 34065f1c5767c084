import { EventEmitter } from 'node:events'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { Scheduler } from '@meridian/testing'
import { PendingConnections } from './pending-connections.js'

/** The parts of a TCP socket PendingConnections uses. */
function fakeSocket(ip: string): Socket & { destroyed: boolean } {
  const socket = new EventEmitter() as unknown as Socket & { destroyed: boolean }
  Object.assign(socket, { remoteAddress: ip, destroyed: false, destroy: () => void (socket.destroyed = true) })
  return socket
}

describe('PendingConnections', () => {
  it('keeps nothing on a socket once its headers arrived (no close listener for the life of the connection)', () => {
    const scheduler = new Scheduler()
    const pending = new PendingConnections({ maxConnections: 10, maxConnectionsPerIp: 2, headerTimeoutMs: 1_000, perIp: true, clock: scheduler.clockFor('relay') })
    const server = new EventEmitter()
    pending.attach(server as unknown as Server)
    const [a, b] = [fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1')]
    server.emit('connection', a)
    server.emit('connection', b)
    expect(pending.size).toBe(2)
    expect(a.listenerCount('close')).toBe(1)
    server.emit('upgrade', { socket: a })
    expect(pending.size).toBe(1)
    expect(a.listenerCount('close')).toBe(0)
    // A pending socket that closes is no longer counted: its address may connect again.
    b.emit('close')
    expect(pending.size).toBe(0)
    expect(b.listenerCount('close')).toBe(0)
    const [c, d, e] = [fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1')]
    for (const s of [c, d, e]) server.emit('connection', s)
    expect([c.destroyed, d.destroyed, e.destroyed]).toEqual([false, false, true]) // the per-IP cap (2)
  })

  it('destroys a socket whose headers take longer than headerTimeoutMs, on one timer for all pending sockets', async () => {
    const scheduler = new Scheduler()
    const refused: string[] = []
    const pending = new PendingConnections({ maxConnections: 10, maxConnectionsPerIp: 10, headerTimeoutMs: 1_000, perIp: true, clock: scheduler.clockFor('relay'), onRefused: (r) => refused.push(r) })
    const server = new EventEmitter()
    pending.attach(server as unknown as Server)
    const [slow, quick, slower] = [fakeSocket('10.0.0.1'), fakeSocket('10.0.0.2'), fakeSocket('10.0.0.3')]
    server.emit('connection', slow)
    server.emit('connection', quick)
    scheduler.advanceTo(scheduler.now() + 500)
    server.emit('connection', slower)
    server.emit('request', { socket: quick })
    expect(scheduler.nextAtMs()).not.toBeNull()
    await scheduler.step() // 1 000 ms: the first one
    expect([slow.destroyed, quick.destroyed, slower.destroyed]).toEqual([true, false, false])
    await scheduler.step() // 1 500 ms: the one that came 500 ms later
    expect([slow.destroyed, quick.destroyed, slower.destroyed]).toEqual([true, false, true])
    expect(refused).toEqual(['header_timeout', 'header_timeout'])
    expect(pending.size).toBe(0)
    expect(scheduler.nextAtMs()).toBeNull()
  })
})
