import { describe, expect, it } from 'vitest'
import { startServer, type ServerName } from './servers.js'
import { runFanOut, fanOut } from './scenarios/fan-out.js'
import { evaluateTargets, renderMarkdown, type RunRecord } from './report.js'
import { machineInfo } from './machine.js'

// A smoke test only: one tiny configuration runs end to end and yields numbers.
// No figure is asserted — benchmarks are `npm run bench`, never timed tests.
describe('bench smoke', () => {
  const runs: RunRecord[] = []

  for (const name of ['raw', 'meridian'] as const satisfies readonly ServerName[]) {
    it(`fan-out, 3 receivers and 20 updates against ${name}, produces figures`, async () => {
      const server = await startServer(name)
      try {
        const metrics = await runFanOut(
          { subject: name, server: { name, url: server.url, pid: server.pid, flavor: server.flavor, echoes: server.echoes }, largeDocFile: '', log: () => {} },
          { receivers: 3, updates: 20, window: 8 }
        )
        expect(metrics.deliveriesPerSec).toBeGreaterThan(0)
        expect(Number.isFinite(metrics.serverUsPerDelivery)).toBe(true)
        expect(metrics.serverRssMb).toBeGreaterThan(0)
        runs.push({
          scenario: 'fan-out',
          configId: '50',
          configLabel: '50 receivers',
          subject: name,
          params: {},
          metrics,
          durationMs: 0,
          loadBeforeCores: 0,
          backgroundCores: 0
        })
      } finally {
        await server.stop()
      }
    })
  }

  it('renders the figures as a table with ratios and evaluates the targets', () => {
    const targets = evaluateTargets(runs)
    expect(targets.find((t) => t.id === 'fan-out-50')?.met).not.toBeNull()
    const markdown = renderMarkdown(
      { startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), quick: true, machine: machineInfo(process.cwd()), runs, targets },
      [fanOut]
    )
    expect(markdown).toMatch(/\| 50 receivers \| deliveries\/s ↑ \| [\d,]+ \| [\d,]+ \(\d+\.\d+× raw\) \|/)
  })
})
