import { RawClient } from '../raw-client.js'
import { cpuDeltaMs, sampleProcess } from '../proc.js'
import { smallUpdates } from '../fixtures.js'
import { deferred, quantile, sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { closeAll, connectReceivers, requireServer } from './fan-out.js'

const WRITER_CLIENT = 1001

/**
 * One writer sends small updates at a fixed rate; every receiver records when
 * each arrives. Writer and receivers share one process and one clock, and
 * every server delivers a writer's updates in order, so the k-th update a
 * receiver gets is the k-th one sent (servers may re-encode the bytes).
 */
export async function runLatency(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const receiversCount = params.receivers ?? 50
  const rate = params.rate ?? 200
  const total = params.updates ?? 1200
  const warmup = Math.min(params.warmup ?? 200, total - 1)
  const docName = 'latency'
  const sendTimes = new Float64Array(total)
  const latencies = new Float64Array((total - warmup) * receiversCount)
  let samples = 0
  let finished = 0
  let worst = 0
  let worstAt = -1
  const done = deferred()

  const onUpdate = (client: RawClient): void => {
    const k = client.updates - 1
    if (k >= total) return
    if (k >= warmup) {
      const latency = performance.now() - (sendTimes[k] ?? 0)
      latencies[samples++] = latency
      if (latency > worst) {
        worst = latency
        worstAt = k
      }
    }
    if (k === total - 1 && ++finished === receiversCount) done.resolve()
  }
  const receivers = await connectReceivers(ctx, docName, receiversCount, onUpdate)
  const writer = new RawClient({ url: server.url, docName, flavor: server.flavor })
  await writer.connect()
  await writer.whenSynced()
  const frames = smallUpdates(total, WRITER_CLIENT).map((u) => writer.frameUpdate(u))
  await sleep(200)

  const interval = 1000 / rate
  const before = sampleProcess(server.pid)
  const started = performance.now()
  let sent = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const tick = (): void => {
    const now = performance.now()
    // Sends what is due; a late tick catches up rather than drifting.
    while (sent < total && started + sent * interval <= now) {
      sendTimes[sent] = performance.now()
      writer.send(frames[sent]!)
      sent++
    }
    if (sent < total) timer = setTimeout(tick, Math.max(0, started + sent * interval - performance.now()))
  }
  tick()
  try {
    await withTimeout(done.promise, 60_000 + (total / rate) * 1000, `latency run (${samples} samples)`)
  } finally {
    clearTimeout(timer)
  }
  const elapsedMs = performance.now() - started
  const after = sampleProcess(server.pid)
  const cpuMs = cpuDeltaMs(before, after)
  await writer.close()
  await closeAll(receivers)

  const measured = latencies.subarray(0, samples)
  return {
    p50Ms: quantile(measured, 0.5),
    p99Ms: quantile(measured, 0.99),
    maxMs: quantile(measured, 1),
    samples,
    /** Which update (0-based, in send order) saw the worst latency: ties stalls to e.g. compaction. */
    maxAtUpdate: worstAt,
    serverCpuPercent: (cpuMs / elapsedMs) * 100,
    serverRssMb: after.rssKb / 1024
  }
}

export const latency: Scenario = {
  name: 'latency',
  title: 'Latency',
  method:
    'One writer sends small text updates at a fixed 200 updates/s to one document with 50 lightweight receivers (1,200 updates; the first 200 are warm-up and not counted). ' +
    'Latency = time from the writer handing an update to its socket until a receiver has it, on one clock (writer and receivers share the client process): 50,000 samples.',
  subjects: ['raw', 'meridian', 'meridian-tmpfs', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: '50', label: '50 receivers, 200 updates/s', params: { receivers: 50, rate: 200, updates: 1200, warmup: 200 }, quick: { receivers: 50, rate: 200, updates: 400, warmup: 100 } }
  ],
  metrics: [
    { key: 'p50Ms', label: 'p50', unit: 'ms', better: 'lower', digits: 2, shown: true },
    { key: 'p99Ms', label: 'p99', unit: 'ms', better: 'lower', digits: 2, shown: true },
    { key: 'maxMs', label: 'max', unit: 'ms', better: 'lower', digits: 2, shown: true },
    { key: 'serverCpuPercent', label: 'server CPU', unit: '%', better: 'lower', digits: 1, shown: true },
    { key: 'samples', label: 'samples', unit: '', better: 'higher', digits: 0 },
    { key: 'serverRssMb', label: 'server RSS after', unit: 'MB', better: 'lower', digits: 1 }
  ],
  usesLargeDoc: false,
  run: runLatency
}
