import { describe, expect, it } from 'vitest'
import { startServer, type RunningServer, type ServerName } from './servers.js'
import { runFanOut, fanOut } from './scenarios/fan-out.js'
import { runWorkspace, workspace } from './scenarios/workspace.js'
import { runSubdocs } from './scenarios/subdocs.js'
import type { RunContext } from './scenario.js'
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

const context = (server: RunningServer): RunContext => ({
  subject: server.name,
  server: { name: server.name, url: server.url, pid: server.pid, flavor: server.flavor, echoes: server.echoes },
  largeDocFile: '',
  log: () => {}
})

describe('bench smoke: workspace and subdocs, small sizes', () => {
  for (const name of ['meridian', 'y-websocket', 'hocuspocus'] as const satisfies readonly ServerName[]) {
    it(`workspace (5 documents, cold and warm) and subdocs (2 of 8) against ${name}`, async () => {
      const server = await startServer(name, { args: workspace.serverArgs?.[name] })
      try {
        for (const warm of [0, 1]) {
          const metrics = await runWorkspace(context(server), { docs: 5, chars: 200, warm })
          expect(metrics.timeMs).toBeGreaterThan(0)
          expect(metrics.sockets).toBe(name === 'y-websocket' ? 5 : 1)
          expect(metrics.bytesUp).toBeGreaterThan(0)
          expect(metrics.bytesDown).toBeGreaterThan(0)
          expect(Number.isFinite(metrics.rssPerDocKb)).toBe(true)
        }
        const sub = await runSubdocs(context(server), { subdocs: 8, load: 2, chars: 200 })
        // Meridian loads the 2 subdocuments asked for; the peers hold every text in the one document.
        expect(sub.textsLoaded).toBe(name === 'meridian' ? 2 : 8)
        expect(sub.wireBytes).toBeGreaterThan(0)
      } finally {
        await server.stop()
      }
    })
  }
})
