/**
 * The client process: receives one Job over IPC, drives the server under test
 * with the raw clients (or runs the client-side scenario), replies with the
 * metrics and exits. A fresh process per job, so no run inherits another's
 * heap, JIT state or sockets.
 */
import type { Job, JobReply } from './job.js'
import { findScenario } from './scenarios/index.js'

process.once('message', (job: Job) => {
  void run(job).then((reply) => {
    process.send?.(reply, () => process.exit(0))
  })
})

async function run(job: Job): Promise<JobReply> {
  try {
    const scenario = findScenario(job.scenario)
    if (scenario === undefined) throw new Error(`unknown scenario ${job.scenario}`)
    const metrics = await scenario.run(
      { subject: job.subject, server: job.server, largeDocFile: job.largeDocFile, log: (m) => process.stderr.write(`  ${m}\n`) },
      job.params
    )
    const cpu = process.cpuUsage()
    return { ok: true, metrics, clientCpuMs: (cpu.user + cpu.system) / 1000 }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }
  }
}
