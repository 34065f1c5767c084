import { createServer, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { FREE_PORT_RANGE, freePort } from './ports.js'

const listen = (port: number): Promise<Server> => new Promise((resolve, reject) => {
  const server = createServer()
  server.once('error', reject)
  server.listen(port, '127.0.0.1', () => resolve(server))
})

describe('freePort', () => {
  it('gives a port outside the ephemeral range that a server can then listen on', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThanOrEqual(FREE_PORT_RANGE.from)
    expect(port).toBeLessThan(FREE_PORT_RANGE.to)
    const server = await listen(port)
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('never gives a port that is in use', async () => {
    const port = await freePort()
    const held = await listen(port)
    try {
      for (let i = 0; i < 20; i++) expect(await freePort()).not.toBe(port)
    } finally {
      await new Promise<void>((resolve) => held.close(() => resolve()))
    }
  })
})
