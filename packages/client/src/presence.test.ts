import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { MeridianProvider, isMeridianError } from './index.js'
import { MemoryClientStore } from './store.js'
import { presence } from './presence.js'

const base = (): { doc: Y.Doc; docName: string; store: MemoryClientStore; connect: false } =>
  ({ doc: new Y.Doc(), docName: 'presence', store: new MemoryClientStore(), connect: false })

describe('presence (@meridian/client/presence)', () => {
  it('without it the provider has no awareness', async () => {
    const provider = new MeridianProvider(base())
    expect(provider.awareness).toBeNull()
    await provider.destroy()
  })

  it('with it the provider makes an Awareness for the doc, and destroys only the one it made', async () => {
    const made = new MeridianProvider({ ...base(), presence })
    expect(made.awareness).toBeInstanceOf(Awareness)
    expect(made.awareness?.doc).toBe(made.doc)
    const doc = new Y.Doc()
    const own = new Awareness(doc)
    const given = new MeridianProvider({ ...base(), doc, presence, awareness: own })
    expect(given.awareness).toBe(own)
    await Promise.all([made.destroy(), given.destroy()])
    expect(own.getLocalState()).not.toBeNull()
  })

  it('an awareness without presence is an options error', () => {
    const doc = new Y.Doc()
    let error: unknown = null
    try {
      new MeridianProvider({ ...base(), doc, awareness: new Awareness(doc) })
    } catch (e) {
      error = e
    }
    expect(isMeridianError(error) && error.code).toBe('ERR_OPTIONS')
  })
})
