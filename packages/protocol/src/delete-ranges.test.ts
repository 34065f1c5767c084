import fc from 'fast-check'
import * as prng from 'lib0/prng'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import { answerDeleteDigest, answerDeleteRanges, DS_DIRECT_RANGES, type DeleteGuess } from './delete-buckets.js'
import { DeleteSync } from './delete-sync.js'
import {
  clipDeleteRanges,
  decodeBounds,
  deleteOnlyUpdate,
  deleteRangesOf,
  deleteRangesOfUpdate,
  encodeBounds,
  encodeUpdateWithoutOldDeletes,
  minBounds,
  subtractDeleteRanges,
  unionDeleteRanges,
  countDeletedClocks,
  type ClockBounds,
  type DeleteRanges
} from './delete-ranges.js'

/** Ranges as the set of deleted "client:clock" ids: the model the range algebra must agree with. */
const asSet = (ranges: DeleteRanges): Set<string> => {
  const out = new Set<string>()
  for (const [client, list] of ranges) for (const [clock, len] of list) for (let c = clock; c < clock + len; c++) out.add(`${client}:${c}`)
  return out
}
const normalised = (ranges: DeleteRanges): boolean => {
  for (const list of ranges.values()) {
    if (list.length === 0) return false
    for (let i = 0; i < list.length; i++) {
      const [clock, len] = list[i] as [number, number]
      if (len <= 0 || clock < 0) return false
      const prev = list[i - 1]
      if (prev !== undefined && prev[0] + prev[1] >= clock) return false
    }
  }
  return true
}
const arbRanges = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.nat(60), fc.integer({ min: 1, max: 8 })), { maxLength: 12 })
  .map((triples) => unionDeleteRanges([new Map(triples.map(([client, clock, len]) => [client, [[clock, len] as [number, number]]]))].concat(
    triples.map(([client, clock, len]) => new Map([[client, [[clock, len] as [number, number]]]]))
  )))
const arbBounds = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.nat(70)), { maxLength: 3 }).map((pairs) => new Map(pairs))

describe('delete range algebra', () => {
  it('union, subtract and clip agree with sets of deleted ids, and stay normalised', () => {
    fc.assert(fc.property(arbRanges, arbRanges, arbBounds, (a, b, bounds) => {
      const union = unionDeleteRanges([a, b])
      expect(asSet(union)).toStrictEqual(new Set([...asSet(a), ...asSet(b)]))
      const diff = subtractDeleteRanges(a, b)
      const sb = asSet(b)
      expect(asSet(diff)).toStrictEqual(new Set([...asSet(a)].filter((id) => !sb.has(id))))
      const below = clipDeleteRanges(a, bounds, true)
      const from = clipDeleteRanges(a, bounds, false)
      const isBelow = (id: string): boolean => {
        const [client, clock] = id.split(':').map(Number) as [number, number]
        return clock < (bounds.get(client) ?? 0)
      }
      expect(asSet(below)).toStrictEqual(new Set([...asSet(a)].filter(isBelow)))
      expect(asSet(from)).toStrictEqual(new Set([...asSet(a)].filter((id) => !isBelow(id))))
      for (const r of [union, diff, below, from]) expect(normalised(r)).toBe(true)
    }), { numRuns: 500 })
  })

  it('deleteOnlyUpdate round-trips through Yjs', () => {
    fc.assert(fc.property(arbRanges, (ranges) => {
      expect(asSet(deleteRangesOfUpdate(deleteOnlyUpdate(ranges)))).toStrictEqual(asSet(ranges))
    }), { numRuns: 200 })
  })

  it('bounds encode as a Yjs state vector', () => {
    const bounds = new Map([[5, 10], [300, 2]])
    expect(Y.decodeStateVector(encodeBounds(bounds))).toStrictEqual(bounds)
    expect(decodeBounds(encodeBounds(bounds))).toStrictEqual(bounds)
    expect(minBounds(new Map([[1, 5], [2, 9]]), new Map([[2, 4], [3, 7]]))).toStrictEqual(new Map([[2, 4]]))
    expect(() => decodeBounds(new Uint8Array([5]))).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_MALFORMED' }))
  })
})

describe('ds-digest, ds-reply and ds-ranges messages', () => {
  it('round-trip and reject bad fields with typed errors', () => {
    const digest = { type: 'ds-digest' as const, bounds: new Uint8Array([1, 5, 9]), digest: new Uint8Array(16).fill(7), deletedClocks: 300 }
    expect(decodeMessage(encodeMessage(digest))).toStrictEqual(digest)
    const replies = [
      { type: 'ds-reply' as const, kind: 'match' as const },
      { type: 'ds-reply' as const, kind: 'deletes' as const, update: new Uint8Array([0, 0]) },
      { type: 'ds-reply' as const, kind: 'buckets' as const, widthClocks: 300, hashes: new Uint8Array(16).fill(1) },
      { type: 'ds-reply' as const, kind: 'recent' as const, update: new Uint8Array([0, 0]) }
    ]
    for (const reply of replies) expect(decodeMessage(encodeMessage(reply))).toStrictEqual(reply)
    const ranges = { type: 'ds-ranges' as const, bounds: new Uint8Array([1, 5, 9]), widthClocks: 4, buckets: [0, 1, 7, 4095] }
    expect(decodeMessage(encodeMessage(ranges))).toStrictEqual(ranges)
    const malformed = [
      new Uint8Array([100, 6, 1, 0, 3, 1, 2, 3, 0]), // digest of 3 bytes
      new Uint8Array([100, 7, 4]), // unknown reply kind
      new Uint8Array([100, 7, 2, 0, 0]), // bucket width 0
      new Uint8Array([100, 7, 2, 1, 3, 1, 2, 3]), // hashes not a multiple of 8 bytes
      new Uint8Array([100, 8, 1, 0, 1, 2, 0xff, 0x1f, 1]) // bucket index past 4095
    ]
    for (const bytes of malformed) expect(tryDecodeMessage(bytes)).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_MALFORMED' } })
    expect(tryDecodeMessage(new Uint8Array([100, 7, 1, 5, 0]))).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_TRUNCATED' } })
    expect(() => encodeMessage({ type: 'ds-digest', bounds: new Uint8Array([0]), digest: new Uint8Array(3), deletedClocks: 0 })).toThrow(RangeError)
    expect(() => encodeMessage({ type: 'ds-ranges', bounds: new Uint8Array([0]), widthClocks: 1, buckets: [2, 1] })).toThrow(RangeError)
  })
})

// ---- the exchange, as relay-link.ts and the relay's connection.ts run it ----

/** A seeded source of numbers in [0, 1) (lib0's PRNG: no copy of our own). */
const seeded = (seed: number): (() => number) => {
  const gen = prng.create(seed)
  return () => prng.real53(gen)
}

/** Random inserts and deletes, one transaction each; returns the updates they produced. */
const edit = (doc: Y.Doc, count: number, random: () => number): Uint8Array[] => {
  const updates: Uint8Array[] = []
  const capture = (u: Uint8Array): void => { updates.push(u) }
  doc.on('update', capture)
  const text = doc.getText('t')
  for (let i = 0; i < count; i++) {
    doc.transact(() => {
      if (text.length > 4 && random() < 0.4) text.delete(Math.floor(random() * (text.length - 2)), 1 + Math.floor(random() * 2))
      else text.insert(Math.floor(random() * (text.length + 1)), 'abc'.slice(0, 1 + Math.floor(random() * 3)))
    })
  }
  doc.off('update', capture)
  return updates
}

/**
 * One reconnect between a client and a relay, both directions, as relay-link.ts
 * and the relay's connection.ts run it, with the client's unacknowledged
 * updates as `pending`. Returns the bytes each way (message payloads).
 */
const reconnect = (
  client: Y.Doc,
  relay: Y.Doc,
  pending: Uint8Array[],
  guesses?: (bounds: ClockBounds) => Iterable<DeleteGuess>
): { up: number, down: number, rounds: number } => {
  let up = 0
  let down = 0
  let rounds = 0
  const relaySv = Y.encodeStateVector(relay)
  const clientSv = Y.encodeStateVector(client)
  up += encodeMessage({ type: 'sync-step1', stateVector: clientSv }).length
  down += encodeMessage({ type: 'sync-step1', stateVector: relaySv }).length
  // Client: step 2 without old deletes, plus those of its pending updates; then the digest.
  const step2Up = encodeUpdateWithoutOldDeletes(client, relaySv, unionDeleteRanges(pending.map(deleteRangesOfUpdate)))
  up += encodeMessage({ type: 'sync-step2', update: step2Up }).length
  const sync = new DeleteSync()
  const digest = sync.begin(client, relaySv)
  up += encodeMessage(digest).length
  // Relay: answers the client's step 1, applies the client's step 2, answers the digest.
  const step2Down = encodeUpdateWithoutOldDeletes(relay, clientSv)
  down += encodeMessage({ type: 'sync-step2', update: step2Down }).length
  Y.applyUpdate(relay, step2Up)
  Y.applyUpdate(client, step2Down)
  let reply = answerDeleteDigest(relay, digest, guesses)
  for (;;) {
    rounds++
    const message = encodeMessage({ type: 'ds-reply', ...reply })
    down += message.length
    const decoded = decodeMessage(message)
    if (decoded.type !== 'ds-reply') throw new Error('not a ds-reply')
    const step = sync.onReply(client, decoded, true)
    if (step.apply !== null) Y.applyUpdate(client, step.apply)
    if (step.update !== null) {
      up += encodeMessage({ type: 'sync-update', update: step.update }).length
      Y.applyUpdate(relay, step.update)
    }
    if (step.ranges !== null) {
      up += encodeMessage(step.ranges).length
      reply = answerDeleteRanges(relay, step.ranges.bounds, step.ranges.widthClocks, step.ranges.buckets)
      continue
    }
    expect(step.done).toBe(true)
    return { up, down, rounds }
  }
}

const expectSame = (a: Y.Doc, b: Y.Doc, seed: number): void => {
  const why = `seed ${seed}`
  expect(a.getText('t').toString(), why).toBe(b.getText('t').toString())
  expect(asSet(deleteRangesOf(a)), why).toStrictEqual(asSet(deleteRangesOf(b)))
  expect(Y.encodeStateVector(a), why).toStrictEqual(Y.encodeStateVector(b))
}

describe('delete-set digest exchange', () => {
  const fresh = Math.floor(Math.random() * 2 ** 31)
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, fresh]) {
    it(`client and relay converge after both edited apart (seed ${seed})`, () => {
      const random = seeded(seed)
      const relay = new Y.Doc()
      const writer = new Y.Doc()
      // Even seeds: enough deletes that the relay answers with bucket hashes (a second round).
      edit(writer, seed % 2 === 0 ? 2_000 : 200, random)
      Y.applyUpdate(relay, Y.encodeStateAsUpdate(writer))
      const client = new Y.Doc()
      Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
      // Apart: the client edits offline (its updates unacknowledged), others edit through the relay,
      // and — in some seeds — the client also holds deletes that are in no pending update
      // (a tab's edits it was handed, or a relay that lost writes).
      const pending = edit(client, Math.floor(random() * 40), random)
      const others = edit(writer, Math.floor(random() * 40), random)
      for (const u of others) Y.applyUpdate(relay, u)
      if (random() < 0.3) edit(client, 5, random)
      reconnect(client, relay, pending)
      expectSame(client, relay, seed)
    })
  }

  it('an unchanged reconnect costs a few dozen bytes however large the delete set', () => {
    const random = seeded(42)
    const relay = new Y.Doc()
    edit(relay, 3000, random)
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    const plainStep2 = Y.encodeStateAsUpdate(relay, Y.encodeStateVector(client)).length
    const { up, down, rounds } = reconnect(client, relay, [])
    expect(plainStep2).toBeGreaterThan(1000)
    expect(rounds).toBe(1)
    expect(up).toBeLessThan(80)
    expect(down).toBeLessThan(80)
  })

  it('offline edits cost about what they are, not the delete set', () => {
    const random = seeded(43)
    const relay = new Y.Doc()
    edit(relay, 3000, random)
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    const pending = edit(client, 50, random)
    const changed = Y.mergeUpdates(pending).length
    const { up, down, rounds } = reconnect(client, relay, pending)
    expectSame(client, relay, 43)
    expect(rounds).toBe(1)
    expect(up).toBeLessThan(changed * 1.2)
    expect(down).toBeLessThan(80)
  })

  it('a paragraph someone else deleted meanwhile costs about its buckets, not the delete set', () => {
    // Typed as people type: paragraph after paragraph, each with typos fixed on the spot.
    const relay = new Y.Doc()
    const text = relay.getText('t')
    for (let p = 0; p < 160; p++) {
      for (let c = 0; c < 60; c++) {
        text.insert(text.length, 'x')
        if (c % 8 === 7) text.delete(text.length - 1, 1)
      }
      text.insert(text.length, '\n')
    }
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    expect(deleteRangesOf(relay).get(relay.clientID)?.length ?? 0).toBeGreaterThan(DS_DIRECT_RANGES)
    const plainStep2 = Y.encodeStateAsUpdate(relay, Y.encodeStateVector(client)).length
    // Another writer deletes paragraph 40 while the client is away.
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(relay))
    const captured: Uint8Array[] = []
    other.on('update', (u: Uint8Array) => captured.push(u))
    other.getText('t').delete(40 * 54, 54)
    for (const u of captured) Y.applyUpdate(relay, u)
    const { up, down, rounds } = reconnect(client, relay, [])
    expectSame(client, relay, 0)
    expect(rounds).toBe(2)
    // 40 bucket hashes (320 B) and the relay's deletes in the one or two buckets that differ.
    expect(down).toBeLessThan(plainStep2 / 4)
    expect(up).toBeLessThan(150)
  })

  it('a right guess at what the client lacks is answered with exactly that (kind recent); a wrong one changes nothing', () => {
    const random = seeded(45)
    const relay = new Y.Doc()
    edit(relay, 3000, random)
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    const plainStep2 = Y.encodeStateAsUpdate(relay, Y.encodeStateVector(client)).length
    const before = deleteRangesOf(relay)
    const sv = Y.encodeStateVector(relay)
    edit(relay, 40, random)
    const missed = subtractDeleteRanges(deleteRangesOf(relay), before)
    const asGuess = (r: DeleteRanges, bounds: ClockBounds): DeleteGuess => {
      const ranges = clipDeleteRanges(r, bounds, true)
      return { ranges, clocks: countDeletedClocks(ranges) }
    }
    const right = reconnect(client, relay, [], (bounds) => [asGuess(new Map([[99, [[0, 1]]]]), bounds), asGuess(missed, bounds)])
    expectSame(client, relay, 45)
    expect(right.rounds).toBe(1)
    // What changed (the edits since, as one update) plus the handshake.
    expect(right.down).toBeLessThan(Y.encodeStateAsUpdate(relay, sv).length + 150)
    expect(right.down).toBeLessThan(plainStep2)
  })
})
