import { describe, expect, it } from 'vitest'
import { ReplicationProgress } from './replication-progress.js'

/** Two other regions; `held[tracked]` says how many hold tracked write `tracked` (absent: none). */
function setup(committed: number, held: Record<number, number>): { progress: ReplicationProgress; reports: [number, number][]; setCommitted: (n: number) => void } {
  const reports: [number, number][] = []
  let upTo = committed
  const progress = new ReplicationProgress({
    guarantees: { heldBy: (tracked) => ({ held: held[tracked] ?? 0, total: 2 }) },
    committed: () => upTo,
    report: (regions, n) => reports.push([regions, n])
  })
  return { progress, reports, setCommitted: (n) => { upTo = n } }
}

/** Lets the coalesced report (a microtask) run. */
const settle = (): Promise<void> => new Promise((resolve) => queueMicrotask(resolve))

describe('ReplicationProgress', () => {
  // [case, messages noted as [message, tracked], committed here, held per tracked write, expected reports [regions, upTo]]
  const table: [string, [number, number][], number, Record<number, number>, [number, number][]][] = [
    ['nothing held elsewhere: no report', [[1, 10]], 1, {}, []],
    ['held by one region', [[1, 10]], 1, { 10: 1 }, [[1, 1]]],
    ['held by both: both levels', [[1, 10]], 1, { 10: 2 }, [[1, 1], [2, 1]]],
    ['a prefix only: the first gap stops each level', [[1, 10], [2, 11], [3, 12]], 3, { 10: 2, 11: 1, 12: 2 }, [[1, 3], [2, 1]]],
    ['not committed here: not reported as held elsewhere', [[1, 10], [2, 11]], 1, { 10: 1, 11: 1 }, [[1, 1]]],
    ['level 2 never passes level 1', [[1, 10], [2, 11]], 2, { 10: 0, 11: 2 }, []]
  ]
  for (const [name, writes, committed, held, expected] of table) {
    it(name, async () => {
      const { progress, reports } = setup(committed, held)
      for (const [message, tracked] of writes) progress.note(message, tracked)
      progress.schedule()
      await settle()
      expect(reports).toEqual(expected)
    })
  }

  it('coalesces a burst into one report and resumes where each level was reported', async () => {
    const held: Record<number, number> = { 10: 1 }
    const { progress, reports, setCommitted } = setup(1, held)
    progress.note(1, 10)
    progress.schedule()
    progress.schedule()
    await settle()
    expect(reports).toEqual([[1, 1]])
    progress.note(2, 11)
    held[11] = 2
    held[10] = 2
    setCommitted(2)
    progress.schedule()
    await settle()
    expect(reports).toEqual([[1, 1], [1, 2], [2, 2]])
    progress.schedule()
    await settle()
    expect(reports).toHaveLength(3) // nothing new: nothing sent
  })
})
