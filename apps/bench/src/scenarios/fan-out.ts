import { RawClient } from '../raw-client.js'
import { cpuDeltaMs, sampleProcess } from '../proc.js'
import { smallUpdates } from '../fixtures.js'
import { deferred, pool, sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'

/** Client id of the fan-out and latency writers. */
const WRITER_CLIENT = 1000

/** Connects `count` lightweight receivers to `docName` (50 handshakes at a time) and waits until all are synced. */
export async function connectReceivers(
  ctx: RunContext,
  docName: string,
  count: number,
  onUpdate: (client: RawClient) => void
): Promise<RawClient[]> {
  const server = requireServer(ctx)
  return pool(count, 50, async () => {
    const client = new RawClient({ url: server.url, docName, flavor: server.flavor, onUpdate })
    await client.connect()
    await client.whenSynced()
    return client
  })
}

export function requireServer(ctx: RunContext): NonNullable<RunContext['server']> {
  if (ctx.server === null) throw new Error(`${ctx.subject}: this scenario needs a server`)
  return ctx.server
}

export async function closeAll(clients: RawClient[]): Promise<void> {
  await pool(clients.length, 200, (i) => clients[i]?.close() ?? Promise.resolve())
}

/**
 * One writer sends `updates` small text updates as fast as a bounded window
 * allows: at most `window` updates may be sent but not yet delivered to every
 * receiver. Figures: deliveries per second (updates × receivers over the
 * time from the first send to the last delivery) and server CPU per delivery.
 */
export async function runFanOut(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const receiversCount = params.receivers ?? 50
  const total = params.updates ?? 2000
  const window = params.window ?? 64
  const docName = `fan-out-${receiversCount}`
  const frames: Uint8Array[] = []
  const delivered = new Uint32Array(total)
  let completed = 0
  let deliveries = 0
  let sent = 0
  const expected = total * receiversCount
  const done = deferred()
  let pump = (): void => {}

  const onUpdate = (client: RawClient): void => {
    const k = client.updates - 1
    if (k >= total) return
    deliveries++
    const count = (delivered[k] ?? 0) + 1
    delivered[k] = count
    if (count === receiversCount) {
      while (completed < total && delivered[completed] === receiversCount) completed++
      pump()
    }
    if (deliveries === expected) done.resolve()
  }
  const receivers = await connectReceivers(ctx, docName, receiversCount, onUpdate)
  const writer = new RawClient({ url: server.url, docName, flavor: server.flavor })
  await writer.connect()
  await writer.whenSynced()
  for (const update of smallUpdates(total, WRITER_CLIENT)) frames.push(writer.frameUpdate(update))
  await sleep(200)

  const before = sampleProcess(server.pid)
  const clientBefore = process.cpuUsage()
  const started = performance.now()
  pump = () => {
    while (sent < total && sent - completed < window) writer.send(frames[sent++]!)
  }
  pump()
  await withTimeout(done.promise, 100_000, `fan-out to ${receiversCount} receivers (${deliveries}/${expected} delivered)`)
  const elapsedMs = performance.now() - started
  const after = sampleProcess(server.pid)
  const clientCpu = process.cpuUsage(clientBefore)
  const cpuMs = cpuDeltaMs(before, after)

  await writer.close()
  await closeAll(receivers)
  return {
    deliveriesPerSec: (expected / elapsedMs) * 1000,
    serverUsPerDelivery: (cpuMs * 1000) / expected,
    elapsedMs,
    serverCpuMs: cpuMs,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    serverRssMb: after.rssKb / 1024
  }
}

export const fanOut: Scenario = {
  name: 'fan-out',
  title: 'Fan-out',
  method:
    'One writer sends 2,000 small text updates (a few characters each) to one document with 50 or 200 lightweight receivers; ' +
    'at most 64 updates may be in flight (sent but not yet delivered to every receiver). Deliveries/s = updates × receivers ÷ time from the first send to the last delivery; ' +
    'server µs per delivery = server CPU (user + system, all threads, from /proc) over the same interval ÷ deliveries. ' +
    'The raw ceiling forwards each message with its own write to each socket; the Meridian relay writes everything a turn of its event loop received ' +
    '(often many updates of the window) as one pre-framed write per socket, so it can go past that ceiling here.',
  subjects: ['raw', 'meridian', 'meridian-tmpfs', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: '50', label: '50 receivers', params: { receivers: 50, updates: 2000, window: 64 }, quick: { receivers: 50, updates: 300, window: 64 } },
    { id: '200', label: '200 receivers', params: { receivers: 200, updates: 2000, window: 64 }, quick: { receivers: 200, updates: 300, window: 64 } }
  ],
  metrics: [
    { key: 'deliveriesPerSec', label: 'deliveries/s', unit: '', better: 'higher', digits: 0, shown: true },
    { key: 'serverUsPerDelivery', label: 'server CPU per delivery', unit: 'µs', better: 'lower', digits: 2, shown: true },
    { key: 'elapsedMs', label: 'elapsed', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'clientCpuMs', label: 'client CPU', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'serverRssMb', label: 'server RSS after', unit: 'MB', better: 'lower', digits: 1 }
  ],
  usesLargeDoc: false,
  run: runFanOut
}
