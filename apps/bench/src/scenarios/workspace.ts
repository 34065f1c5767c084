import * as Y from 'yjs'
import { settledRssKb } from '../proc.js'
import { sleep, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { seedServer, textIs } from '../seed.js'
import { smallDocSet } from '../small-docs.js'
import { measureClient, sdkSubject } from '../sdk/measure-client.js'
import { prefillLocal, useFakeIndexedDb } from '../sdk/sync-clients.js'
import { requireServer } from './fan-out.js'

const DB_NAME = 'bench-workspace'
/** Runs in this process so far: each gets its own databases (a test runs several in one process). */
let runsInProcess = 0
/** Per document: give up after this long. */
const OPEN_TIMEOUT_MS = 90_000

/**
 * One client opens `docs` documents (a note of `chars` characters each) at
 * once with its system's SDK and waits until every one is synced with the
 * server, which holds them already (seeded beforehand, not counted).
 * `warm` = 1: the client's local store holds every document too (as after an
 * earlier session), so it loads them, then syncs; 0: nothing local.
 */
export async function runWorkspace(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const subject = sdkSubject(ctx)
  const count = params.docs ?? 500
  const warm = (params.warm ?? 0) === 1
  const set = smallDocSet('workspace-', count, params.chars ?? 2000)
  await useFakeIndexedDb()
  const dbName = `${DB_NAME}-${++runsInProcess}`

  const baselineRssKb = await settledRssKb(server.pid)
  const docs = set.names.map((docName, i) => ({ docName, state: set.states[i]!, check: textIs(set.texts[i]!) }))
  await seedServer(server, docs)
  if (warm) await prefillLocal(subject, dbName, docs)
  await sleep(300)

  const ydocs = set.names.map(() => new Y.Doc())
  let rssKb = Number.NaN
  const run = await measureClient(
    server,
    subject,
    { local: warm ? 'indexeddb' : 'memory', dbName, timeoutMs: OPEN_TIMEOUT_MS },
    async (client) => {
      await Promise.all(set.names.map((docName, i) => client.open(docName, ydocs[i]!)))
    },
    async () => {
      // Every document is open: the server's memory for them, once it stops moving.
      await sleep(500)
      rssKb = await settledRssKb(server.pid, 3000)
    }
  )
  for (let i = 0; i < count; i++) {
    const wrong = textIs(set.texts[i]!)(ydocs[i]!)
    if (wrong !== null) throw new Error(`${subject}: ${set.names[i] ?? ''} synced but wrong: ${wrong}`)
    ydocs[i]!.destroy()
  }
  return {
    timeMs: run.timeMs,
    bytesUp: run.bytesUp,
    bytesDown: run.bytesDown,
    sockets: run.sockets,
    serverCpuMs: run.serverCpuMs,
    rssPerDocKb: (rssKb - baselineRssKb) / count,
    serverRssMb: rssKb / 1024,
    baselineRssMb: baselineRssKb / 1024,
    docBytes: set.states.reduce((sum, s) => sum + s.length, 0) / count
  }
}

export const workspace: Scenario = {
  name: 'workspace',
  title: 'Workspace: one client, 500 documents',
  method:
    'One client opens 500 documents at once — a note of 2,000 typed characters each (about 2.7 KB encoded) — with its system\'s own SDK, and waits until every one is synced with the server, which holds them already ' +
    '(seeded through raw clients and read back before the measurement, not counted). Meridian: `MeridianClient` (`@meridian/client/multiplex`), every document over one multiplexed socket; ' +
    'y-websocket: a `WebsocketProvider` per document (a socket each); Hocuspocus: a `HocuspocusProvider` per document, all attached to one shared `HocuspocusProviderWebsocket` (its multiplexing). ' +
    'Cold: the client has nothing locally (Meridian\'s memory store, no y-indexeddb): everything comes from the server. Warm: the client\'s IndexedDB (fake-indexeddb) holds every document already — Meridian\'s store, y-indexeddb for both peers (one database per document, its design) — ' +
    'and the client loads each before syncing it. Time = from creating the client until the last document is synced. Bytes = what the client\'s TCP sockets wrote (up) and read (down): upgrade requests, frame headers and payloads, up to 200 ms after. ' +
    'Server CPU over the same span. RSS per open document = (server RSS with all 500 open − RSS of the fresh server before seeding) ÷ 500. ' +
    'Hocuspocus runs with an in-memory store (`--memory-store`: a Map behind onStoreDocument/onLoadDocument), without which it drops a document when its last client leaves; y-websocket keeps documents in memory; ' +
    'the Meridian relay keeps them in SQLite (and in memory until 30 s idle). The SDKs run with their defaults: both peers\' providers send awareness; Meridian\'s presence, policy engine and delete-set digest are opt-in and off. No raw ceiling: the figure compared is the clients\', with their SDKs.',
  subjects: ['meridian', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: 'cold', label: 'cold: nothing local', params: { docs: 500, chars: 2000, warm: 0 }, quick: { docs: 50, chars: 2000, warm: 0 } },
    { id: 'warm', label: 'warm: every document in IndexedDB', params: { docs: 500, chars: 2000, warm: 1 }, quick: { docs: 50, chars: 2000, warm: 1 } }
  ],
  metrics: [
    { key: 'timeMs', label: 'time until all synced', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'bytesUp', label: 'bytes up', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'bytesDown', label: 'bytes down', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'sockets', label: 'sockets opened', unit: '', better: 'lower', digits: 0, shown: true, noRatio: true },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'rssPerDocKb', label: 'server RSS per open document', unit: 'KB', better: 'lower', digits: 1, shown: true },
    { key: 'serverRssMb', label: 'server RSS', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'baselineRssMb', label: 'server RSS before', unit: 'MB', better: 'lower', digits: 1 },
    { key: 'docBytes', label: 'document size (encoded, mean)', unit: 'B', better: 'lower', digits: 0, noRatio: true }
  ],
  usesLargeDoc: false,
  serverArgs: { hocuspocus: ['--memory-store'] },
  run: runWorkspace
}
