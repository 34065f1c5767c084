import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from './codec.js'
import { MAX_BATCH_ENTRIES } from './mux.js'
import { MuxBatcher } from './mux-batcher.js'

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
const turn = (): Promise<void> => Promise.resolve()

describe('MuxBatcher', () => {
  it('sends what one turn queued as one batch, in order; a lone message unwrapped', async () => {
    const sent: Uint8Array[] = []
    const batcher = new MuxBatcher(1_024, (frame) => sent.push(frame))
    batcher.push(bytes(3, 1))
    batcher.push(bytes(4, 2))
    batcher.push(bytes(5, 3))
    expect(sent).toHaveLength(0)
    await turn()
    expect(sent).toHaveLength(1)
    const batch = decodeMessage(sent[0] as Uint8Array)
    expect(batch.type === 'batch' ? batch.messages.map((m) => [m.length, m[0]]) : null).toEqual([[3, 1], [4, 2], [5, 3]])
    batcher.push(bytes(2, 9))
    await turn()
    expect(sent[1]).toEqual(bytes(2, 9))
  })

  it('never lets a batch pass maxBatchBytes; a message that alone is that large goes alone', async () => {
    const sent: Uint8Array[] = []
    const batcher = new MuxBatcher(100, (frame) => sent.push(frame))
    for (let i = 0; i < 10; i++) batcher.push(bytes(30, i))
    batcher.push(bytes(500, 42))
    batcher.push(bytes(1, 7))
    await turn()
    const entries = sent.map((frame) => {
      const m = frame[0] === 100 && frame[1] === 13 ? decodeMessage(frame) : null
      return m?.type === 'batch' ? m.messages.map((e) => e[0]) : [frame[0]]
    })
    expect(entries).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [42], [7]])
    expect(sent.every((frame) => frame.length <= 100 || frame.length === 500)).toBe(true)
  })

  it('never puts more than MAX_BATCH_ENTRIES messages in a batch (the relay refuses a larger one)', async () => {
    const sent: Uint8Array[] = []
    const batcher = new MuxBatcher(1024 * 1024, (frame) => sent.push(frame))
    for (let i = 0; i < MAX_BATCH_ENTRIES + 2; i++) batcher.push(bytes(3, i % 256))
    await turn()
    expect(sent.map((frame) => {
      const m = decodeMessage(frame)
      return m.type === 'batch' ? m.messages.length : 1
    })).toEqual([MAX_BATCH_ENTRIES, 2])
  })

  it('clear() drops what is queued (its socket is gone); flush() sends it now', async () => {
    const sent: Uint8Array[] = []
    const batcher = new MuxBatcher(1_024, (frame) => sent.push(frame))
    batcher.push(bytes(3, 1))
    batcher.clear()
    await turn()
    expect(sent).toHaveLength(0)
    batcher.push(bytes(3, 2))
    batcher.flush()
    expect(sent).toEqual([bytes(3, 2)])
  })

  it('keeps order across an early flush: acks before, a large update alone, acks after', async () => {
    const out: unknown[] = []
    const batcher = new MuxBatcher(64, (frame) => out.push(decodeMessage(frame)))
    const ack = (upTo: number): Uint8Array => encodeMessage({ type: 'ack', upTo })
    for (let i = 0; i < 10; i++) batcher.push(ack(i))
    batcher.push(encodeMessage({ type: 'sync-update', update: new Uint8Array(100) }))
    batcher.push(ack(99))
    await turn()
    const flat = out.flatMap((m) => {
      const msg = m as { type: string; messages?: Uint8Array[] }
      return msg.type === 'batch' ? (msg.messages ?? []).map((e) => decodeMessage(e).type) : [msg.type]
    })
    expect(flat).toEqual([...Array.from({ length: 10 }, () => 'ack'), 'sync-update', 'ack'])
  })
})
