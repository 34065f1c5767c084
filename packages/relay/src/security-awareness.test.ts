import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import { RawClient, waitUntil } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** An awareness update written by hand: any ids, clocks and states. */
function presence(entries: readonly { id: number; clock: number; state: unknown }[]): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const { id, clock, state } of entries) {
    encoding.writeVarUint(e, id)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, JSON.stringify(state))
  }
  return encoding.toUint8Array(e)
}

/** What a client sees of the room's presence: every awareness message applied, as y-protocols would. */
function watch(c: RawClient): awarenessProtocol.Awareness {
  const view = new awarenessProtocol.Awareness(new Y.Doc())
  view.setLocalState(null)
  const apply = (): void => {
    for (const m of c.received.splice(0)) if (m.type === 'awareness') awarenessProtocol.applyAwarenessUpdate(view, m.update, 'relay')
  }
  const timer = setInterval(apply, 5)
  view.on('destroy', () => clearInterval(timer))
  return view
}

describe('awareness forgery (security #15, finding 7)', () => {
  it('a writer cannot overwrite another connection\'s presence', async () => {
    const { url, relay } = await pool.start()
    const observer = await RawClient.connect(url, 'aw')
    const seen = watch(observer)
    const alice = await RawClient.connect(url, 'aw')
    alice.send({ type: 'awareness', update: presence([{ id: 1001, clock: 1, state: { name: 'alice' } }]) })
    await waitUntil(() => (seen.getStates().get(1001) as { name?: string } | undefined)?.name === 'alice', 'alice present')
    const mallory = await RawClient.connect(url, 'aw')
    mallory.send({ type: 'awareness', update: presence([{ id: 1001, clock: 999_999, state: { name: 'mallory' } }, { id: 1002, clock: 1, state: { name: 'mallory' } }]) })
    await waitUntil(() => seen.getStates().has(1002), 'mallory present under her own id')
    expect(seen.getStates().get(1001)).toEqual({ name: 'alice' })
    // Alice's own updates still count (relay clocks: always newer).
    alice.send({ type: 'awareness', update: presence([{ id: 1001, clock: 2, state: { name: 'alice 2' } }]) })
    await waitUntil(() => (seen.getStates().get(1001) as { name?: string } | undefined)?.name === 'alice 2', 'alice renewed')
    expect(metric(await scrape(relay), 'meridian_relay_rejected_messages_total', { reason: 'awareness_not_own' })).toBeGreaterThanOrEqual(1)
    seen.destroy()
  })

  it('an id claimed with a huge clock while its owner was away is hers again when she returns', async () => {
    const { url } = await pool.start()
    const observer = await RawClient.connect(url, 'away')
    const seen = watch(observer)
    const alice = await RawClient.connect(url, 'away')
    alice.send({ type: 'awareness', update: presence([{ id: 2002, clock: 1, state: { name: 'alice' } }]) })
    await waitUntil(() => seen.getStates().has(2002), 'alice present')
    await alice.close()
    await waitUntil(() => !seen.getStates().has(2002), 'alice gone')
    const reader = await RawClient.connect(url, 'away')
    reader.send({ type: 'awareness', update: presence([{ id: 2002, clock: 2 ** 40, state: { name: 'squatter' } }]) })
    await waitUntil(() => (seen.getStates().get(2002) as { name?: string } | undefined)?.name === 'squatter', 'squatter present')
    await reader.close()
    await waitUntil(() => !seen.getStates().has(2002), 'squatter gone')
    const back = await RawClient.connect(url, 'away')
    back.send({ type: 'awareness', update: presence([{ id: 2002, clock: 3, state: { name: 'alice again' } }]) })
    await waitUntil(() => (seen.getStates().get(2002) as { name?: string } | undefined)?.name === 'alice again', 'alice back')
    seen.destroy()
  })

  it('caps the ids one connection sets and the size of a state', async () => {
    const { url } = await pool.start()
    const observer = await RawClient.connect(url, 'flood')
    const seen = watch(observer)
    const flooder = await RawClient.connect(url, 'flood')
    const many = Array.from({ length: 20_000 }, (_, i) => ({ id: 10_000 + i, clock: 1, state: { i } }))
    flooder.send({ type: 'awareness', update: presence(many) })
    const huge = await RawClient.connect(url, 'flood')
    huge.send({ type: 'awareness', update: presence([{ id: 7, clock: 1, state: { blob: 'x'.repeat(1_900_000) } }, { id: 8, clock: 1, state: { small: true } }]) })
    await waitUntil(() => seen.getStates().has(8), 'the small state arrived')
    await waitUntil(() => seen.getStates().size === 5, 'four of the flood and the small one')
    expect(seen.getStates().has(7)).toBe(false)
    seen.destroy()
  })
})
