import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { WebSocket, WebSocketServer } from 'ws'
import { frameBinaryMessages } from './broadcast.js'
import { frameWriterOf, releaseUpgrade } from './ws-internals.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('the ws and @fastify/websocket internals the relay relies on', () => {
  it('ws: a server socket without extensions exposes _socket, _sender._queue and _state, and pre-framed bytes arrive as messages', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    await once(server, 'listening')
    const accepted = once(server, 'connection')
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
    client.on('error', () => undefined) // terminated in cleanup, maybe before the handshake ends
    cleanups.push(() => client.terminate())
    const [socket] = (await accepted) as [WebSocket]
    const writer = frameWriterOf(socket)
    expect(writer).not.toBeNull()
    const stream = writer?.()
    expect(stream).not.toBeNull()
    // The writer corks the stream for the rest of a callback: net.Socket's cork/uncork.
    expect(typeof stream?.cork).toBe('function')
    expect(typeof stream?.uncork).toBe('function')
    const got: Buffer[] = []
    const two = new Promise<void>((resolve) => {
      client.on('message', (data: Buffer) => {
        got.push(data)
        if (got.length === 2) resolve()
      })
    })
    stream?.write(frameBinaryMessages([new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(7)]))
    await two
    expect([...(got[0] ?? [])]).toEqual([1, 2, 3])
    expect(got[1]?.length).toBe(300)
  })

  it('ws: anything that is not a ws socket gets no fast path', () => {
    expect(frameWriterOf({ readyState: 1, send: () => undefined, close: () => undefined } as never)).toBeNull()
  })

  it('@fastify/websocket: an accepted socket has exactly one error listener, which releaseUpgrade replaces', async () => {
    const app = Fastify()
    cleanups.push(() => app.close())
    await app.register(websocket)
    const replaced = new Promise<number>((resolve) => {
      app.get('/*', { websocket: true }, (socket, request) => {
        expect(socket.listeners('error')).toHaveLength(1)
        const mine = function (this: WebSocket): void {}
        releaseUpgrade(socket, request.raw, undefined, mine)
        const listeners = socket.listeners('error')
        resolve(listeners.length === 1 && listeners[0] === mine ? 1 : 0)
      })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const client = new WebSocket(`ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/doc`)
    client.on('error', () => undefined) // terminated in cleanup, maybe before the handshake ends
    cleanups.push(() => client.terminate())
    expect(await replaced).toBe(1)
  })
})
