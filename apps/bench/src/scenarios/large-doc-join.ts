import { RawClient } from '../raw-client.js'
import { cpuDeltaMs, sampleProcess } from '../proc.js'
import { loadLargeDoc } from '../fixtures.js'
import { median, sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { closeAll, requireServer } from './fan-out.js'

/**
 * A writer puts the 100k-operation document on the server (one update); then,
 * `rounds` times, `joiners` fresh lightweight clients connect at once and the
 * time until the last of them has the document (its step 2) is taken.
 */
export async function runLargeDocJoin(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const joiners = params.joiners ?? 20
  const rounds = params.rounds ?? 3
  const { state } = loadLargeDoc(ctx.largeDocFile)
  const docName = 'large-doc'
  const connect = async (): Promise<RawClient> => {
    const client = new RawClient({ url: server.url, docName, flavor: server.flavor })
    await client.connect()
    await client.whenSynced(60_000)
    return client
  }

  // The writer stays connected (a server may unload a document nobody is connected to).
  const writer = await connect()
  const observer = await connect()
  writer.sendUpdate(state)
  await withTimeout(
    (async () => {
      while (observer.updates === 0) await sleep(5)
    })(),
    60_000,
    'the server did not take the large document'
  )
  await observer.close()
  await sleep(300)

  const times: number[] = []
  let cpuMs = 0
  let bytes = 0
  let peakRssKb = 0
  for (let round = 0; round < rounds; round++) {
    const before = sampleProcess(server.pid)
    const started = performance.now()
    const clients = await withTimeout(Promise.all(Array.from({ length: joiners }, connect)), 90_000, `join round ${round}`)
    times.push(performance.now() - started)
    const after = sampleProcess(server.pid)
    cpuMs += cpuDeltaMs(before, after)
    peakRssKb = Math.max(peakRssKb, after.peakRssKb)
    bytes += clients.reduce((sum, c) => sum + c.bytesIn, 0)
    await closeAll(clients)
    await sleep(200)
  }
  await writer.close()
  return {
    timeMs: median(times),
    firstRoundMs: times[0] ?? Number.NaN,
    serverCpuMs: cpuMs / rounds,
    bytesPerClient: bytes / (rounds * joiners),
    documentBytes: state.length,
    serverPeakRssMb: peakRssKb / 1024
  }
}

export const largeDocJoin: Scenario = {
  name: 'large-doc-join',
  title: 'Large-document join',
  method:
    'A writer puts a 100k-operation text document (one client, 10 % deletions; about 1.0 MB as one update) on the server. Then 20 fresh lightweight clients connect at once; ' +
    'time = from the first connect until the last has the server\'s sync step 2. Three rounds (median time; CPU per round averaged); bytes per client = payload bytes each joiner received.',
  subjects: ['raw', 'meridian', 'meridian-tmpfs', 'y-websocket', 'hocuspocus'],
  configs: [{ id: '20', label: '20 clients join a 100k-op document', params: { joiners: 20, rounds: 3 }, quick: { joiners: 20, rounds: 1 } }],
  metrics: [
    { key: 'timeMs', label: 'time until all synced', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'bytesPerClient', label: 'bytes per client', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'firstRoundMs', label: 'first round', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'documentBytes', label: 'document size', unit: 'B', better: 'lower', digits: 0 },
    { key: 'serverPeakRssMb', label: 'server peak RSS', unit: 'MB', better: 'lower', digits: 1 }
  ],
  usesLargeDoc: true,
  run: runLargeDocJoin
}
