import { RawClient, type Flavor } from '../raw-client.js'
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

  const baselineRssKb = await settledRssKb(server.pid)
  const before = sampleProcess(server.pid)
  const started = performance.now()
  const clients = await openDocPairs({ url: server.url, flavor: server.flavor, echoes: server.echoes, prefix: 'many-docs', docs, perClient, concurrency })
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

export interface DocPairsOptions {
  url: string
  flavor: Flavor
  /** The server echoes a client's own updates back, so each client receives both clients' updates. */
  echoes: boolean
  /** Document names are `${prefix}-${i}`. */
  prefix: string
  docs: number
  perClient: number
  /** Documents in their connect-and-exchange phase at a time. */
  concurrency: number
}

/** The load of many-docs (also used by diag/memory-per-doc.ts): per document two clients sync, send `perClient` updates each, and stay connected. */
export async function openDocPairs(o: DocPairsOptions): Promise<RawClient[]> {
  const [updatesA, updatesB] = [smallUpdates(o.perClient, 2001), smallUpdates(o.perClient, 2002)]
  const expected = o.echoes ? 2 * o.perClient : o.perClient
  const clients: RawClient[] = []
  await pool(o.docs, o.concurrency, async (i) => {
    const docName = `${o.prefix}-${i}`
    const received = deferred()
    let complete = 0
    const onUpdate = (client: RawClient): void => {
      if (client.updates === expected && ++complete === 2) received.resolve()
    }
    const a = new RawClient({ url: o.url, docName, flavor: o.flavor, onUpdate })
    const b = new RawClient({ url: o.url, docName, flavor: o.flavor, onUpdate })
    clients.push(a, b)
    await Promise.all([a.connect(), b.connect()])
    await Promise.all([a.whenSynced(), b.whenSynced()])
    for (let k = 0; k < o.perClient; k++) {
      a.sendUpdate(updatesA[k]!)
      b.sendUpdate(updatesB[k]!)
    }
    await withTimeout(received.promise, 30_000, `${docName}: updates not delivered`)
  })
  return clients
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
