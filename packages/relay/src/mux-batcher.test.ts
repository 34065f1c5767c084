import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, type Message } from '@meridian/protocol'
import { MAX_BATCH_ENTRIES, MuxBatcher } from './mux-batcher.js'

const ack = (upTo: number): Uint8Array => encodeMessage({ type: 'ack', upTo })
// The batcher flushes in a microtask queued by the first push: awaiting after it runs it.
const turnEnd = (): Promise<void> => Promise.resolve()

/** A batcher writing decoded frames to `out`. */
function batcher(maxBatchBytes: number): { b: MuxBatcher; out: Message[] } {
  const out: Message[] = []
  return { b: new MuxBatcher((frame) => out.push(decodeMessage(frame)), maxBatchBytes), out }
}

describe('MuxBatcher', () => {
  it('sends one message of a turn as it is, several as one batch, in order', async () => {
    const { b, out } = batcher(256 * 1024)
    b.push(ack(1))
    await turnEnd()
    expect(out).toEqual([{ type: 'ack', upTo: 1 }])
    b.push(ack(2))
    b.push(ack(3))
    b.push(ack(4))
    expect(out).toHaveLength(1)
    await turnEnd()
    expect(out[1]).toEqual({ type: 'batch', messages: [ack(2), ack(3), ack(4)] })
  })

  it('flushes early before a batch would pass its byte or entry bound; a larger message goes alone', async () => {
    const { b, out } = batcher(64)
    const big = encodeMessage({ type: 'sync-update', update: new Uint8Array(100) })
    for (let i = 0; i < 10; i++) b.push(ack(i))
    b.push(big)
    b.push(ack(99))
    await turnEnd()
    const sizes = out.map((m) => (m.type === 'batch' ? m.messages.length : 1))
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(12)
    expect(out.some((m) => m.type === 'sync-update')).toBe(true)
    for (const m of out) if (m.type === 'batch') expect(encodeMessage(m).length).toBeLessThanOrEqual(64)

    const many = batcher(1024 * 1024)
    for (let i = 0; i < MAX_BATCH_ENTRIES + 1; i++) many.b.push(ack(1))
    await turnEnd()
    expect(many.out.map((m) => (m.type === 'batch' ? m.messages.length : 1))).toEqual([MAX_BATCH_ENTRIES, 1])
  })
})
