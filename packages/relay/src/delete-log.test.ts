import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { countDeletedClocks } from '@meridian/protocol'
import { DELETE_LOG_LOOKBACK, DELETE_LOG_MAX_RANGES, DeleteLog } from './delete-log.js'

const ORIGIN = (nodeId: string): { clientNodeId: string } => ({ clientNodeId: nodeId })
const originOf = (origin: unknown): string | null =>
  typeof origin === 'object' && origin !== null && 'clientNodeId' in origin ? (origin as { clientNodeId: string }).clientNodeId : null

/** A document with `n` characters, and a log on it. */
const setup = (n: number): { doc: Y.Doc; log: DeleteLog; all: Map<number, number> } => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'x'.repeat(n))
  const log = new DeleteLog(doc, originOf)
  return { doc, log, all: new Map([[doc.clientID, n]]) }
}

const remove = (doc: Y.Doc, at: number, len: number, by: string | null = null): void => {
  doc.transact(() => doc.getText('t').delete(at, len), by === null ? null : ORIGIN(by))
}

describe('delete log', () => {
  it('offers the deletions since a client left, newest guess first, never its own', () => {
    const { doc, log, all } = setup(100)
    remove(doc, 0, 1)
    log.connected('a')
    log.disconnected('a')
    remove(doc, 10, 2, 'b')
    remove(doc, 20, 3, 'a') // a's own write on another connection: never news to it
    const [first, ...rest] = [...log.candidates('a', all)]
    expect(first?.clocks).toBe(2)
    // Then with one more entry before the departure (a broadcast that may have been lost in the drop).
    expect(rest[0]?.clocks).toBe(3)
    expect(countDeletedClocks(rest[0]?.ranges ?? new Map())).toBe(3)
  })

  it('a node id whose older connection is still open left "now"; an unknown one gets no guess', () => {
    const { doc, log, all } = setup(50)
    log.connected('a')
    remove(doc, 0, 4, 'b')
    log.connected('a') // a reconnects before its old socket's drop was noticed
    const guesses = [...log.candidates('a', all)]
    expect(guesses[0]?.clocks).toBe(4) // stepping back from now: the entry it may have missed
    expect([...log.candidates('nobody', all)]).toHaveLength(0)
  })

  it('clips guesses to the bounds and looks back at most DELETE_LOG_LOOKBACK entries', () => {
    const { doc, log, all } = setup(200)
    log.connected('a')
    log.disconnected('a')
    for (let i = 0; i < DELETE_LOG_LOOKBACK + 5; i++) remove(doc, 0, 1, 'b')
    const below = new Map([[doc.clientID, 3]])
    const clipped = [...log.candidates('a', below)]
    expect(clipped.every((g) => g.clocks <= 3)).toBe(true)
    const guesses = [...log.candidates('a', all)]
    expect(guesses).toHaveLength(1)
    expect(guesses[0]?.clocks).toBe(DELETE_LOG_LOOKBACK + 5)
  })

  it('forgets the oldest entries past its size bound, and then offers nothing for departures before them', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'x'.repeat(200))
    const all = new Map([[doc.clientID, 200]])
    const log = new DeleteLog(doc, originOf, { maxRanges: 20, maxClients: 2 })
    log.connected('a')
    log.disconnected('a')
    // Every other character, each its own range and entry: past the bound, the first entries go.
    for (let i = 0; i < 25; i++) remove(doc, i + 1, 1, 'b')
    expect([...log.candidates('a', all)]).toHaveLength(0)
    // A later departure still works, and only the newest departures are remembered.
    log.disconnected('c')
    remove(doc, 0, 1, 'b')
    expect([...log.candidates('c', all)][0]?.clocks).toBe(1)
    log.disconnected('d')
    log.disconnected('e')
    expect([...log.candidates('c', all)]).toHaveLength(0)
    expect(DELETE_LOG_MAX_RANGES).toBeGreaterThanOrEqual(1000)
  })
})
