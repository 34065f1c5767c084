import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MeridianClient } from './mux-client.js'
import { FakeMuxRelay, settle, textOf } from './mux-relay.test-helper.js'
import { MemoryClientStore } from './store/memory-store.js'
import { subdocName } from './subdocs.js'
import { manualClock } from './test-clock.test-helper.js'

function setup() {
  const relay = new FakeMuxRelay()
  const store = new MemoryClientStore()
  const client = new MeridianClient({
    url: 'ws://a', WebSocket: relay.WebSocket, clock: manualClock(), random: () => 0, store, provider: { syncProbeIntervalMs: 0 }
  })
  return { relay, store, client }
}

/** Two subdocuments in the relay's copy of `p`, each with content of its own on the relay. */
function remoteSubdocs(relay: FakeMuxRelay): string[] {
  const guids = ['one', 'two'].map((key) => {
    const subdoc = new Y.Doc()
    relay.doc('p').getMap('m').set(key, subdoc)
    relay.doc(subdocName('p', subdoc.guid)).getText('t').insert(0, `inside ${key}`)
    return subdoc.guid
  })
  return guids
}

const names = (client: MeridianClient): string[] => [...client.documents.keys()].sort()

describe('subdocuments (client.open(name, { subdocs }))', () => {
  it('opens a subdocument once loaded, as `${parent}/subdocs/${guid}`; an unloaded one is not opened', async () => {
    const { relay, client } = setup()
    const [one, two] = remoteSubdocs(relay) as [string, string]
    const parent = client.open('p', { subdocs: {} })
    await settle()
    const subdoc = parent.doc.getMap('m').get('one') as Y.Doc
    expect(subdoc.shouldLoad).toBe(false)
    expect(names(client)).toEqual(['p'])
    subdoc.load()
    await settle()
    expect(names(client)).toEqual(['p', `p/subdocs/${one}`])
    expect(textOf(subdoc)).toBe('inside one')
    const provider = client.providerFor(subdoc)
    expect(provider?.docName).toBe(`p/subdocs/${one}`)
    subdoc.getText('t').insert(0, '> ')
    await provider?.whenAcknowledged()
    expect(relay.text(`p/subdocs/${one}`)).toBe('> inside one')
    expect(relay.last.docId(`p/subdocs/${two}`)).toBeUndefined()
  })

  it('autoLoad opens every subdocument', async () => {
    const { relay, client } = setup()
    const [one, two] = remoteSubdocs(relay) as [string, string]
    const parent = client.open('p', { subdocs: { autoLoad: true } })
    await settle()
    expect(names(client)).toEqual(['p', `p/subdocs/${one}`, `p/subdocs/${two}`].sort())
    expect(textOf(parent.doc.getMap('m').get('two') as Y.Doc)).toBe('inside two')
  })

  it('closes a removed or unloaded subdocument; its pending writes stay in the store and sync when it is loaded again', async () => {
    const { relay, client, store } = setup()
    const parent = client.open('p', { subdocs: {} })
    const map = parent.doc.getMap('m')
    const subdoc = new Y.Doc() // created here: loaded
    map.set('s', subdoc)
    const name = subdocName('p', subdoc.guid)
    await settle()
    expect(client.providerFor(subdoc)?.synced).toBe(true)
    client.disconnect()
    subdoc.getText('t').insert(0, 'written offline')
    await settle()
    expect(client.providerFor(subdoc)?.pendingCount).toBe(1)

    subdoc.destroy() // unloads it: Yjs puts an unloaded copy in its place
    await settle()
    expect(client.providerFor(subdoc)).toBeNull()
    expect(names(client)).toEqual(['p'])
    expect((await store.load(name)).pending).toHaveLength(1)

    const again = map.get('s') as Y.Doc
    expect(again.shouldLoad).toBe(false)
    again.load()
    const provider = client.providerFor(again)
    await provider?.whenLoaded
    expect(textOf(again)).toBe('written offline')
    expect(provider?.pendingCount).toBe(1)
    client.connect()
    await settle()
    await provider?.whenAcknowledged()
    expect(relay.text(name)).toBe('written offline')
    expect((await store.load(name)).pending).toHaveLength(0)

    map.delete('s')
    await settle()
    expect(names(client)).toEqual(['p'])
    expect(relay.last.docId(name)).toBeUndefined()
  })

  it('an unloaded subdocument loaded again in the same turn gets the write its closing provider was still storing', async () => {
    const { client } = setup()
    client.disconnect()
    const parent = client.open('p', { subdocs: {} })
    const map = parent.doc.getMap('m')
    const subdoc = new Y.Doc()
    map.set('s', subdoc)
    await client.providerFor(subdoc)?.whenLoaded
    subdoc.getText('t').insert(0, 'last word')
    subdoc.destroy()
    const again = map.get('s') as Y.Doc
    again.load()
    await client.providerFor(again)?.whenLoaded
    expect(textOf(again)).toBe('last word')
    expect(client.providerFor(again)?.pendingCount).toBe(1)
  })

  it('follows nested subdocuments, and closes them with their parent', async () => {
    const { relay, client } = setup()
    const parent = client.open('p', { subdocs: {} })
    const outer = new Y.Doc()
    const inner = new Y.Doc()
    outer.getMap('m').set('inner', inner)
    parent.doc.getMap('m').set('outer', outer)
    await settle()
    const innerName = subdocName(subdocName('p', outer.guid), inner.guid)
    expect(names(client)).toEqual(['p', `p/subdocs/${outer.guid}`, innerName].sort())
    inner.getText('t').insert(0, 'deep')
    await client.providerFor(inner)?.whenAcknowledged()
    expect(relay.text(innerName)).toBe('deep')

    await client.close('p')
    expect(names(client)).toEqual([])
    await settle()
    expect(relay.last.open.size).toBe(0)
  })
})
