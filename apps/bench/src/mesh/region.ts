import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { BenchClient, freePort, spawnRelay, until } from './cluster.js'

/**
 * In-region fan-out: one writer, receivers spread over 1 or 3 relays of one
 * region sharing PostgreSQL and a Redis bus. On a 2-core machine three relays
 * cannot be faster than one (they share the cores); the figure shows what the
 * bus costs, not a scale-out speed-up.
 */
export async function regionFanOut(options: { relays: number; receivers: number; updates: number; windowSize: number; authArgs: string[] }): Promise<Record<string, unknown>> {
  const postgresUrl = process.env.MERIDIAN_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const redisUrl = process.env.MERIDIAN_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
  const schema = `meridian_bench_${randomBytes(4).toString('hex')}`
  const prefix = `meridian-bench-${randomBytes(4).toString('hex')}:`
  const children: ChildProcess[] = []
  const urls: string[] = []
  try {
    for (let i = 0; i < options.relays; i++) {
      const port = await freePort()
      const child = await spawnRelay([
        '--host', '127.0.0.1', '--port', String(port), '--region', 'bench', '--node-id', `bench-${i + 1}`, '--log-level', 'warn',
        '--storage', `${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}schema=${schema}`, '--bus', `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
        ...options.authArgs
      ], `bench-${i + 1}`)
      children.push(child)
      urls.push(`ws://127.0.0.1:${port}`)
    }
    let delivered = 0
    const perReceiver = new Array<number>(options.receivers).fill(0)
    const receivers = await Promise.all(Array.from({ length: options.receivers }, (_, i) =>
      BenchClient.open(urls[i % urls.length] as string, 'fan-out', (update) => {
        if (update.byteLength > 2) {
          perReceiver[i] = (perReceiver[i] ?? 0) + 1
          delivered++
        }
      })))
    const writer = await BenchClient.open(urls[0] as string, 'fan-out')
    writer.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') writer.send({ type: 'sync-update', update })
    })
    await new Promise((r) => setTimeout(r, 500))
    delivered = 0
    perReceiver.fill(0)
    const started = performance.now()
    for (let i = 0; i < options.updates; i++) {
      writer.doc.getText('t').insert(0, 'x')
      // Bounded window: never more than windowSize updates ahead of the slowest receiver.
      if (i >= options.windowSize) await until(() => Math.min(...perReceiver) >= i - options.windowSize, 'window', 60_000, 1)
    }
    await until(() => Math.min(...perReceiver) >= options.updates, 'all delivered', 120_000, 5)
    const seconds = (performance.now() - started) / 1000
    writer.close()
    for (const r of receivers) r.close()
    return { relays: options.relays, receivers: options.receivers, updates: options.updates, deliveriesPerSecond: Math.round(delivered / seconds) }
  } finally {
    for (const c of children) c.kill('SIGKILL')
    const client = new pg.Client({ connectionString: postgresUrl })
    await client.connect().then(() => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined).finally(() => client.end().catch(() => undefined))
  }
}
