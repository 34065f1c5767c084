import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'

/**
 * Where `freePort` looks: below Linux's default ephemeral range (32768–60999, also the
 * usual range elsewhere) and above the well-known services, so that no `listen(0)` and
 * no outgoing connection can take the port between this check and the relay's bind.
 */
export const FREE_PORT_RANGE = Object.freeze({ from: 20_000, to: 32_000 })
const ATTEMPTS = 64

/**
 * A loopback port that was free a moment ago, for a relay that must come back on a
 * known address (a restart, a proxy in front of it). A random port is taken from
 * `FREE_PORT_RANGE` (one listen(0) port could be handed out again to anyone before
 * the relay binds it: seen as EADDRINUSE under load); after `ATTEMPTS` taken ones, a
 * port the kernel picks.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = randomInt(FREE_PORT_RANGE.from, FREE_PORT_RANGE.to)
    if (await canListen(port)) return port
  }
  return await listenAndClose(0)
}

async function canListen(port: number): Promise<boolean> {
  try {
    await listenAndClose(port)
    return true
  } catch {
    // Taken (EADDRINUSE) or not allowed here: try another.
    return false
  }
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
