import { describe, expect, it } from 'vitest'
import { encodeClientMessage, tryDecodeRelayMessage, type ClientSentMessage } from './client-codec.js'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import { readDsReply } from './ds-digest.js'
import type { Message } from './message.js'

const bytes = Uint8Array.of(1, 2, 3)

describe('the client codec', () => {
  it('writes what a client sends byte for byte as encodeMessage', () => {
    const sent: ClientSentMessage[] = [
      { type: 'sync-step1', stateVector: bytes },
      { type: 'sync-step2', update: bytes },
      { type: 'sync-update', update: bytes },
      { type: 'awareness', update: bytes },
      { type: 'hello', version: 1, role: 'client', nodeId: 'n1', region: '', features: 15 }
    ]
    for (const message of sent) expect(encodeClientMessage(message)).toEqual(encodeMessage(message))
  })

  it('reads what a relay sends as decodeMessage does', () => {
    const received: Message[] = [
      { type: 'sync-step1', stateVector: bytes },
      { type: 'sync-step2', update: bytes },
      { type: 'sync-update', update: bytes },
      { type: 'awareness', update: bytes },
      { type: 'auth-denied', reason: 'no' },
      { type: 'query-awareness' },
      { type: 'hello', version: 1, role: 'relay', nodeId: 'r1', region: 'eu', features: 7 },
      { type: 'ack', upTo: 3 },
      { type: 'error', code: 'ERR_X', message: 'x', fatal: true },
      { type: 'status', readOnly: false, homeRegion: 'eu', homeRegionReachable: true, regions: { us: 5, ap: null }, meshConfigured: true },
      { type: 'replicated', regions: 2, upTo: 9 }
    ]
    for (const message of received) {
      const wire = encodeMessage(message)
      expect(tryDecodeRelayMessage(wire, null)).toEqual({ ok: true, message: decodeMessage(wire) })
    }
  })

  it('reads a ds-reply only with the reader, and skips messages meant for relays', () => {
    const reply = encodeMessage({ type: 'ds-reply', kind: 'recent', update: bytes })
    expect(tryDecodeRelayMessage(reply, readDsReply)).toEqual({ ok: true, message: decodeMessage(reply) })
    expect(tryDecodeRelayMessage(reply, null)).toEqual({ ok: true, message: null })
    for (const message of [
      { type: 'auth-token', token: 't' },
      { type: 'ds-digest', bounds: bytes, digest: new Uint8Array(16), deletedClocks: 1 },
      { type: 'ds-ranges', bounds: bytes, widthClocks: 4, buckets: [1, 3] }
    ] satisfies Message[]) {
      expect(tryDecodeRelayMessage(encodeMessage(message), null)).toEqual({ ok: true, message: null })
    }
  })

  it('fails as decodeMessage fails: unknown types and subtypes, trailing and missing bytes', () => {
    const bad = [Uint8Array.of(7), Uint8Array.of(100, 42), Uint8Array.of(0, 9, 0), Uint8Array.of(...encodeMessage({ type: 'ack', upTo: 1 }), 0), Uint8Array.of(0, 0, 5, 1)]
    for (const wire of bad) {
      const ours = tryDecodeRelayMessage(wire, null)
      const full = tryDecodeMessage(wire)
      expect(ours.ok).toBe(false)
      expect(full.ok).toBe(false)
      if (!ours.ok && !full.ok) expect(ours.error.code).toBe(full.error.code)
    }
  })
})
