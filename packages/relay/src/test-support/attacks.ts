/** Hostile payloads from the security review (#15), built once for the relay's tests. */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

/**
 * `levels` Y.Maps nested one in another under `root.a`, from client `clientId`:
 * the update creating them, and the id of the outermost map's item.
 */
export function deepNesting(levels: number, clientId = 77): { update: Uint8Array; outer: { client: number; clock: number } } {
  const doc = new Y.Doc()
  doc.clientID = clientId
  const outer = new Y.Map()
  doc.transact(() => {
    doc.getMap('root').set('a', outer)
    let m = outer
    for (let i = 0; i < levels; i++) {
      const child = new Y.Map()
      m.set('c', child)
      m = child
    }
  })
  const item = outer._item as Y.Item
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return { update, outer: { client: item.id.client, clock: item.id.clock } }
}

/** An update with no structs and a delete set of `ranges` for `client` (v1 encoding, written by hand). */
export function deleteSetUpdate(client: number, ranges: readonly [clock: number, len: number][]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, ranges.length)
  for (const [clock, len] of ranges) {
    encoding.writeVarUint(e, clock)
    encoding.writeVarUint(e, len)
  }
  return encoding.toUint8Array(e)
}

/** A `chars`-long text insert from `clientId` (one item), and a delete set cutting it every other character `cuts` times. */
export function splittingDeletes(chars: number, cuts: number, clientId = 88): { insert: Uint8Array; deletes: Uint8Array } {
  const doc = new Y.Doc()
  doc.clientID = clientId
  doc.getText('t').insert(0, 'x'.repeat(chars))
  const insert = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  const ranges: [number, number][] = []
  for (let i = 0; i < cuts && 2 * i + 1 < chars; i++) ranges.push([2 * i + 1, 1])
  return { insert, deletes: deleteSetUpdate(clientId, ranges) }
}
