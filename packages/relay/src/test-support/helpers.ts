import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay, type RelayOptions } from '@meridian/relay'

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long'
export const ADMIN = 'admin-token-0123456789'

export interface Started {
  relay: Relay
  url: string
  storage: StorageAdapter
  /** Every log line the relay wrote (JSON text), when `captureLogs` was set. */
  logs: string[]
}

/** Starts relays on loopback and closes them after each test (call `closeAll` in afterEach). */
export function relayPool(): { start: (options?: Partial<RelayOptions> & { captureLogs?: boolean }) => Promise<Started>; closeAll: () => Promise<void> } {
  const relays: Relay[] = []
  return {
    async start(options = {}) {
      const { captureLogs, ...rest } = options
      const storage = rest.storage ?? new MemoryStorageAdapter()
      const logs: string[] = []
      const logger: Logger | undefined = captureLogs === true
        ? pino({ level: 'trace' }, new Writable({ write(chunk: Buffer, _enc, cb) { logs.push(chunk.toString()); cb() } }))
        : rest.logger
      const relay = await buildRelay({ nodeId: 'test-1', region: 'eu', ...rest, storage, ...(logger !== undefined ? { logger } : {}) })
      relays.push(relay)
      const url = await relay.listen({ port: 0, host: '127.0.0.1' })
      return { relay, url, storage, logs }
    },
    async closeAll() {
      await Promise.all(relays.splice(0).map((r) => r.close()))
    }
  }
}

/** Parses Prometheus text into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    const key = line.slice(0, space)
    const value = Number(line.slice(space + 1))
    if (!Number.isNaN(value)) out.set(key, value)
  }
  return out
}

/** A metric's value, summed over every series whose labels include `labels`. */
export function metric(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const [key, value] of metrics) {
    const brace = key.indexOf('{')
    const keyName = brace < 0 ? key : key.slice(0, brace)
    if (keyName !== name) continue
    const labelText = brace < 0 ? '' : key.slice(brace)
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += value
  }
  return sum
}

/** The relay's metrics (from the registry: works after close too; the HTTP endpoint has its own test). */
export async function scrape(relay: Relay): Promise<Map<string, number>> {
  return parseMetrics(await relay.metrics.scrape())
}
