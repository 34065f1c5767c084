import { RawClient } from '../raw-client.js'
import { cpuDeltaMs, sampleProcess, settledRssKb } from '../proc.js'
import { smallUpdates } from '../fixtures.js'
import { deferred, pool, sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { closeAll, requireServer } from './fan-out.js'

/**
 * Many small documents at once: for each document two clients connect, sync,
 * and send 5 updates each, which the other receives; `concurrency` documents
 * are in that phase at a time and every client stays connected to the end,
 * when the server's RSS is read (all documents loaded).
 */
export async function runManyDocs(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const docs = params.docs ?? 1000
  const perClient = params.updatesPerClient ?? 5
  const concurrency = params.concurrency ?? 50
  const [updatesA, updatesB] = [smallUpdates(perClient, 2001), smallUpdates(perClient, 2002)]
  // Servers that echo a client's own updates back deliver both clients' updates to each.
  const expected = server.echoes ? 2 * perClient : perClient

  const baselineRssKb = await settledRssKb(server.pid)
  const before = sampleProcess(server.pid)
  const started = performance.now()
  const clients: RawClient[] = []
  await pool(docs, concurrency, async (i) => {
    const docName = `many-docs-${i}`
    const received = deferred()
    let complete = 0
    const onUpdate = (client: RawClient): void => {
      if (client.updates === expected && ++complete === 2) received.resolve()
    }
    const a = new RawClient({ url: server.url, docName, flavor: server.flavor, onUpdate })
    const b = new RawClient({ url: server.url, docName, flavor: server.flavor, onUpdate })
    clients.push(a, b)
    await Promise.all([a.connect(), b.connect()])
    await Promise.all([a.whenSynced(), b.whenSynced()])
    for (let k = 0; k < perClient; k++) {
      a.sendUpdate(updatesA[k]!)
      b.sendUpdate(updatesB[k]!)
    }
    await withTimeout(received.promise, 30_000, `${docName}: updates not delivered`)
  })
  const elapsedMs = performance.now() - started
  const after = sampleProcess(server.pid)
  await sleep(500)
  const rssKb = await settledRssKb(server.pid, 3000)
  await closeAll(clients)
  return {
    elapsedMs,
    serverCpuMs: cpuDeltaMs(before, after),
    rssPerDocKb: (rssKb - baselineRssKb) / docs,
    serverRssMb: rssKb / 1024,
    baselineRssMb: baselineRssKb / 1024
  }
}

export const manyDocs: Scenario = {
  name: 'many-docs',
  title: 'Many documents',
  method:
    '1,000 documents × 2 lightweight clients: both connect and sync, then each sends 5 small updates that the other receives; 50 documents are in that phase at a time and every client stays connected. ' +
    'Time = all documents done; server CPU over that time; RSS per document = (server RSS with every document loaded − RSS before the first connection) ÷ 1,000.',
  subjects: ['raw', 'meridian', 'meridian-tmpfs', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: '1000', label: '1,000 documents × 2 clients', params: { docs: 1000, updatesPerClient: 5, concurrency: 50 }, quick: { docs: 200, updatesPerClient: 5, concurrency: 50 } }
  ],
  metrics: [
    { key: 'elapsedMs', label: 'time', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'rssPerDocKb', label: 'RSS per document', unit: 'KB', better: 'lower', digits: 1, shown: true },
    { key: 'serverRssMb', label: 'server RSS', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'baselineRssMb', label: 'server RSS before', unit: 'MB', better: 'lower', digits: 1 }
  ],
  usesLargeDoc: false,
  run: runManyDocs
}
