import * as Y from 'yjs'
import { RawClient } from '../raw-client.js'
import { cpuDeltaMs, sampleProcess } from '../proc.js'
import { loadLargeDoc, offlineEdits } from '../fixtures.js'
import { sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'
import { requireServer } from './fan-out.js'

const RECONNECTING_CLIENT = 77

/**
 * A client holding the 100k-operation document (synced with the server) goes
 * offline, makes `edits` edits (one transaction each), and reconnects. Counted:
 * the payload bytes it sends and receives on the new connection, and the time
 * until it has the server's step 2 and — when it made edits — an observer
 * connected throughout has received them from the server (so the server applied them).
 */
export async function runReconnect(ctx: RunContext, params: Params): Promise<Metrics> {
  const server = requireServer(ctx)
  const edits = params.edits ?? 0
  const { state } = loadLargeDoc(ctx.largeDocFile)
  const docName = `reconnect-${edits}`
  const doc = new Y.Doc()
  doc.clientID = RECONNECTING_CLIENT
  Y.applyUpdate(doc, state)

  // The observer keeps the document loaded on the server and tells when it applied something.
  const observer = new RawClient({ url: server.url, docName, flavor: server.flavor })
  await observer.connect()
  await observer.whenSynced()
  const waitForObserver = (count: number, what: string): Promise<void> =>
    withTimeout(
      (async () => {
        while (observer.updates < count) await sleep(1)
      })(),
      60_000,
      what
    )

  // One client across both connections: the same HELLO node id, as an SDK provider keeps.
  const nodeId = `bench-${edits}-${params.remoteEdits ?? 0}`
  const first = new RawClient({ url: server.url, docName, flavor: server.flavor, doc, nodeId })
  await first.connect()
  await first.whenSynced(60_000)
  await waitForObserver(1, 'the server did not take the document')
  await first.close()
  await sleep(300)

  const changes = offlineEdits(doc, edits, 5 + edits)
  let changedBytes = changes.length > 0 ? Y.mergeUpdates(changes).length : 0
  const remoteEdits = params.remoteEdits ?? 0
  if (remoteEdits > 0) {
    // Someone else edits meanwhile (deleting too), through the server.
    const otherDoc = new Y.Doc()
    otherDoc.clientID = RECONNECTING_CLIENT + 1
    Y.applyUpdate(otherDoc, state)
    const other = new RawClient({ url: server.url, docName, flavor: server.flavor, doc: otherDoc })
    await other.connect()
    await other.whenSynced(60_000)
    const seenBefore = observer.updates
    const remote = offlineEdits(otherDoc, remoteEdits, 11 + remoteEdits)
    for (const update of remote) other.sendUpdate(update)
    changedBytes = Y.mergeUpdates(remote).length
    await waitForObserver(seenBefore + remote.length, 'the server did not take the other client\'s edits')
    await other.close()
    otherDoc.destroy()
  }
  const seen = observer.updates
  await sleep(100)

  const before = sampleProcess(server.pid)
  const started = performance.now()
  // Its offline edits are unacknowledged local updates, as in an SDK's outbox.
  const second = new RawClient({ url: server.url, docName, flavor: server.flavor, doc, pending: changes, nodeId })
  await second.connect()
  await second.whenSynced(60_000)
  if (edits > 0) await waitForObserver(seen + 1, 'the server did not apply the offline edits')
  const timeMs = performance.now() - started
  // Late messages of the handshake (acks, sync status) still count.
  await sleep(150)
  const after = sampleProcess(server.pid)
  const bytesUp = second.bytesOut
  const bytesDown = second.bytesIn
  await second.close()
  await observer.close()
  doc.destroy()
  return {
    bytesUp,
    bytesDown,
    changedBytes,
    upPerChanged: changedBytes > 0 ? bytesUp / changedBytes : Number.NaN,
    timeMs,
    serverCpuMs: cpuDeltaMs(before, after)
  }
}

export const reconnect: Scenario = {
  name: 'reconnect',
  title: 'Reconnect',
  method:
    'A client holding the 100k-operation document (already synced with the server) disconnects, makes 0, 100 or 10,000 edits offline (one transaction each) and reconnects. ' +
    'Bytes = WebSocket payload bytes the client sent (up) and received (down) on the new connection, handshake included; changed = the offline edits merged into one update (Y.mergeUpdates), ' +
    'the size of what actually changed. Time = from connect until the client has the server\'s step 2 and the server has applied the edits (an observer client received them). ' +
    'In the last configuration the reconnecting client made no edits; another client made 100 edits (10 % of them deletions at random places of the text) through the server meanwhile, and changed = those edits merged.',
  subjects: ['meridian', 'y-websocket', 'hocuspocus'],
  configs: [
    { id: '0', label: '0 offline edits', params: { edits: 0 } },
    { id: '100', label: '100 offline edits', params: { edits: 100 } },
    { id: '10000', label: '10,000 offline edits', params: { edits: 10000 } },
    { id: 'remote-100', label: 'another client made 100 edits meanwhile', params: { edits: 0, remoteEdits: 100 } }
  ],
  metrics: [
    { key: 'bytesUp', label: 'bytes up', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'bytesDown', label: 'bytes down', unit: 'B', better: 'lower', digits: 0, shown: true },
    { key: 'changedBytes', label: 'changed (merged edits)', unit: 'B', better: 'lower', digits: 0, shown: true, noRatio: true },
    { key: 'timeMs', label: 'time to synced', unit: 'ms', better: 'lower', digits: 1, shown: true },
    { key: 'upPerChanged', label: 'bytes up ÷ changed', unit: '×', better: 'lower', digits: 2 },
    { key: 'serverCpuMs', label: 'server CPU', unit: 'ms', better: 'lower', digits: 0 }
  ],
  usesLargeDoc: true,
  run: runReconnect
}
