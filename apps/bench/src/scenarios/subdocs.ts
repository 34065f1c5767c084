import * as Y from 'yjs'
import { sleep, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { seedServer, textIs, type SeedDoc } from '../seed.js'
import { SUBDOCS_MAP, subdocFixture, subdocKey, type SubdocFixture } from '../small-docs.js'
import { measureClient, sdkSubject, whenText } from '../sdk/measure-client.js'
import type { SyncClient } from '../sdk/sync-clients.js'
import { requireServer } from './fan-out.js'

const PARENT = 'subdocs-parent'
const TIMEOUT_MS = 90_000

/** The relay document a subdocument lives in (the client's naming: `${parent}/subdocs/${guid}`). */
const subdocName = (guid: string): string => `${PARENT}/subdocs/${guid}`

/**
 * A parent document holding `subdocs` subdocuments (Y.Docs in a Y.Map, a note
 * of `chars` characters each). Meridian opens the parent with `autoLoad: false`
 * and loads `load` of them (`subdoc.load()`, spread over the map), timed until
 * each one's text has arrived. No open-source peer implements subdocuments:
 * their rows open the layout an app would use instead, every text as a Y.Text
 * in the one document, which they load whole whatever the app needs.
 */
export async function runSubdocs(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const subject = sdkSubject(ctx)
  const count = params.subdocs ?? 500
  const load = Math.min(count, params.load ?? 5)
  const fixture = subdocFixture(count, params.chars ?? 2000)
  await seedServer(server, subject === 'meridian' ? subdocSeed(fixture) : inlineSeed(fixture))
  await sleep(300)

  let loaded = 0
  const run = await measureClient(server, subject, { local: 'memory', dbName: 'bench-subdocs', timeoutMs: TIMEOUT_MS }, async (client) => {
    loaded = subject === 'meridian' ? await openSubdocs(client, fixture, load) : await openInline(client, fixture)
  })
  return {
    timeMs: run.timeMs,
    bytesUp: run.bytesUp,
    bytesDown: run.bytesDown,
    wireBytes: run.bytesUp + run.bytesDown,
    sockets: run.sockets,
    serverCpuMs: run.serverCpuMs,
    textsLoaded: loaded,
    parentBytes: subject === 'meridian' ? fixture.parentState.length : fixture.inlineState.length
  }
}

/** Opens the parent (subdocuments not loaded), then loads `load` of them spread over the map; returns how many texts arrived. */
async function openSubdocs(client: SyncClient, fixture: SubdocFixture, load: number): Promise<number> {
  const parent = new Y.Doc()
  await client.open(PARENT, parent, { subdocsAutoLoad: false })
  const map = parent.getMap<Y.Doc>(SUBDOCS_MAP)
  const count = fixture.guids.length
  const waits: Promise<void>[] = []
  for (let k = 0; k < load; k++) {
    const index = Math.floor((k * count) / load)
    const subdoc = map.get(subdocKey(index))
    if (!(subdoc instanceof Y.Doc)) throw new Error(`parent synced without subdocument ${subdocKey(index)}`)
    if (subdoc.guid !== fixture.guids[index]) throw new Error(`subdocument ${subdocKey(index)} has guid ${subdoc.guid}, expected ${fixture.guids[index] ?? ''}`)
    subdoc.load()
    waits.push(whenText(subdoc, fixture.texts[index]!, TIMEOUT_MS, `subdocument ${subdocKey(index)} not loaded`))
  }
  await Promise.all(waits)
  return load
}

/** Opens the one document holding every text; returns how many texts it has (all, once synced). */
async function openInline(client: SyncClient, fixture: SubdocFixture): Promise<number> {
  const doc = new Y.Doc()
  await client.open(PARENT, doc)
  const map = doc.getMap<Y.Text>(SUBDOCS_MAP)
  for (let i = 0; i < fixture.texts.length; i++) {
    if (map.get(subdocKey(i))?.toString() !== fixture.texts[i]) throw new Error(`${subdocKey(i)} synced but wrong`)
  }
  doc.destroy()
  return map.size
}

/** Meridian: the parent (references only) and every subdocument as its own relay document. */
function subdocSeed(fixture: SubdocFixture): SeedDoc[] {
  const count = fixture.guids.length
  const parent: SeedDoc = {
    docName: PARENT,
    state: fixture.parentState,
    check: (doc) => (doc.getMap(SUBDOCS_MAP).size === count ? null : `${doc.getMap(SUBDOCS_MAP).size} subdocuments, expected ${count}`)
  }
  return [parent, ...fixture.guids.map((guid, i) => ({ docName: subdocName(guid), state: fixture.subdocStates[i]!, check: textIs(fixture.texts[i]!) }))]
}

/** The peers: one document with every text inline. */
function inlineSeed(fixture: SubdocFixture): SeedDoc[] {
  const count = fixture.texts.length
  return [
    {
      docName: PARENT,
      state: fixture.inlineState,
      check: (doc) => (doc.getMap(SUBDOCS_MAP).size === count ? null : `${doc.getMap(SUBDOCS_MAP).size} texts, expected ${count}`)
    }
  ]
}

export const subdocs: Scenario = {
  name: 'subdocs',
  title: 'Subdocuments: open a parent of 500, load a few',
  method:
    'A parent document holds 500 subdocuments (Y.Docs in a Y.Map, uuid guids), each a note of 2,000 typed characters (about 2.7 KB encoded). Meridian (`MeridianClient`, one multiplexed socket, memory store) opens the parent with ' +
    '`subdocs: { autoLoad: false }` and calls `subdoc.load()` on 5 of them, or on all 500; each is the relay document `<parent>/subdocs/<guid>`. Time = from creating the client until every loaded subdocument\'s text has arrived; ' +
    'bytes = what the client\'s TCP sockets wrote and read (upgrade, frame headers, payloads, up to 200 ms after). No open-source peer implements subdocuments (neither y-websocket nor Hocuspocus syncs them): ' +
    'their rows measure what an app would do instead — every text as a Y.Text inside the one document — which they can only load whole, so both configurations measure the same thing for them. ' +
    'The server holds everything beforehand (seeded and read back, not counted); Hocuspocus with its in-memory store (`--memory-store`).',
  subjects: ['meridian', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: 'parent-5', label: 'parent + 5 subdocuments', params: { subdocs: 500, load: 5, chars: 2000 }, quick: { subdocs: 50, load: 5, chars: 2000 } },
    { id: 'parent-all', label: 'parent + all 500 subdocuments', params: { subdocs: 500, load: 500, chars: 2000 }, quick: { subdocs: 50, load: 50, chars: 2000 } }
  ],
  metrics: [
    { key: 'timeMs', label: 'time', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'bytesUp', label: 'bytes up', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'bytesDown', label: 'bytes down', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'wireBytes', label: 'bytes, both ways', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'textsLoaded', label: 'texts loaded', unit: '', better: 'lower', digits: 0, shown: true, noRatio: true },
    { key: 'sockets', label: 'sockets opened', unit: '', better: 'lower', digits: 0, noRatio: true },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'parentBytes', label: 'parent document (encoded)', unit: 'B', better: 'lower', digits: 0, noRatio: true }
  ],
  usesLargeDoc: false,
  serverArgs: { hocuspocus: ['--memory-store'] },
  run: runSubdocs
}
