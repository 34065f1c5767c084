import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeMessage, encodeMessage } from '@meridian/protocol'
import { fakeRelay, type FakeSocket } from './fake-relay.test-helper.js'
import type { MeridianProviderOptions } from './options.js'
import { policyEngine } from './policy.js'
import { MeridianProvider } from './provider.js'
import { MemoryClientStore } from './store/memory-store.js'
import { manualClock } from './test-clock.test-helper.js'

/** Step 1s the client sent after its first one (probes). */
const probes = (socket: FakeSocket): number =>
  socket.sent.map((bytes) => decodeMessage(bytes)).filter((m) => m.type === 'sync-step1').length - 1

/** A synced provider on a fake relay: the relay's step 1 and step 2 answered, then `ms` pass. */
async function syncedFor(ms: number, options: Partial<MeridianProviderOptions>): Promise<FakeSocket> {
  const relay = fakeRelay()
  const clock = manualClock()
  const provider = new MeridianProvider({
    doc: new Y.Doc(), docName: 'd', url: 'ws://relay', WebSocket: relay.WebSocket, store: new MemoryClientStore(), clock, ...options
  })
  await provider.whenLoaded
  const socket = relay.sockets[0] as FakeSocket
  socket.open()
  socket.onmessage?.({ data: encodeMessage({ type: 'sync-step2', update: Y.encodeStateAsUpdate(new Y.Doc()) }) })
  expect(provider.synced).toBe(true)
  clock.advance(ms)
  await provider.destroy()
  return socket
}

describe('sync probes (the staleness bound\'s sync points)', () => {
  it('are off without the policy engine: nothing computes a bound from them, so they would only cost traffic', async () => {
    expect(probes(await syncedFor(10_000, {}))).toBe(0)
  })

  it('run with the policy engine, every quarter of the bound (within 20–1000 ms), one unanswered at a time', async () => {
    expect(probes(await syncedFor(10_000, { policyEngine, policy: { maxStalenessMs: 2_000 } }))).toBe(1)
  })

  it('follow syncProbeIntervalMs when given, engine or not', async () => {
    expect(probes(await syncedFor(1_000, { syncProbeIntervalMs: 100 }))).toBe(1)
  })
})
