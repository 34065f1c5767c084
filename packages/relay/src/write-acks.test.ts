import { describe, expect, it } from 'vitest'
import { WriteAcks } from './write-acks.js'

describe('WriteAcks', () => {
  // [case, steps ('r': receive, 'c<n>': commit n, 'x<n>': refuse n), expected committed, expected result of the last step]
  const table: [string, string[], number, boolean | null][] = [
    ['commits in order', ['r', 'r', 'c1', 'c2'], 2, true],
    ['a later commit covers earlier ones (cumulative)', ['r', 'r', 'r', 'c3'], 3, true],
    ['an earlier commit after a later one changes nothing', ['r', 'r', 'c2', 'c1'], 2, false],
    ['a refusal stops acks before it for good', ['r', 'r', 'r', 'c1', 'x2', 'c3'], 1, false],
    ['commits before the refusal still count', ['r', 'r', 'x2', 'c1'], 1, true],
    ['the first refusal recorded is the bound (later ones do not move it)', ['r', 'r', 'r', 'x3', 'x2', 'c2', 'c3'], 2, false]
  ]
  for (const [name, steps, committed, last] of table) {
    it(name, () => {
      const acks = new WriteAcks(null)
      let result: boolean | null = null
      for (const step of steps) {
        const n = Number(step.slice(1))
        if (step === 'r') result = (acks.receive(), null)
        else if (step.startsWith('c')) result = acks.commit(n)
        else result = (acks.refuse(n), null)
      }
      expect(acks.committed).toBe(committed)
      expect(result).toBe(last)
      expect(acks.anyRefused).toBe(steps.some((s) => s.startsWith('x')))
    })
  }

  it('numbers messages from 1 and observes each committed one\'s latency once', () => {
    const observed: number[] = []
    const acks = new WriteAcks({ observe: (s: number) => observed.push(s) } as never)
    expect([acks.receive(), acks.receive(), acks.receive()]).toEqual([1, 2, 3])
    acks.commit(2)
    expect(observed).toHaveLength(2)
    acks.commit(3)
    expect(observed).toHaveLength(3)
    expect(observed.every((s) => s >= 0)).toBe(true)
  })
})
