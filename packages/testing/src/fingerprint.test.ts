import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { convergenceDiff } from './assertions.js'
import { docContent } from './fingerprint.js'

describe('docContent', () => {
  it('shows a subdocument as its guid (not its cyclic Y.Doc), so documents with subdocuments compare', () => {
    const a = new Y.Doc()
    a.getMap('files').set('one', new Y.Doc({ guid: 'g-1' }))
    a.getArray('list').push([new Y.Doc({ guid: 'g-2' })])
    expect(docContent(a)).toEqual({ files: { one: { subdoc: 'g-1' } }, list: [{ subdoc: 'g-2' }] })
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    expect(convergenceDiff([{ name: 'a', doc: a }, { name: 'b', doc: b }])).toEqual([])
  })
})
