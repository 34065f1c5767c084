import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Metrics, Params, SubjectName } from './scenario.js'
import type { ServerTarget } from './servers.js'

/** One measurement: a scenario configuration against one subject, run in its own client process. */
export interface Job {
  scenario: string
  configId: string
  params: Params
  subject: SubjectName
  server: ServerTarget | null
  largeDocFile: string
}

export type JobReply = { ok: true; metrics: Metrics; clientCpuMs: number } | { ok: false; error: string }

/** Runs a job in a fresh client process (`client-process.js` next to this file) and returns its metrics. */
export function runJobInChild(job: Job, timeoutMs: number): Promise<{ metrics: Metrics; clientCpuMs: number }> {
  const child = fork(fileURLToPath(new URL('./client-process.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (err: Error | null, result?: { metrics: Metrics; clientCpuMs: number }): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      if (err !== null) reject(err)
      else resolve(result ?? { metrics: {}, clientCpuMs: 0 })
    }
    const timer = setTimeout(() => finish(new Error(`client process timed out after ${timeoutMs} ms`)), timeoutMs)
    child.once('message', (reply: JobReply) => {
      if (reply.ok) finish(null, { metrics: reply.metrics, clientCpuMs: reply.clientCpuMs })
      else finish(new Error(reply.error))
    })
    child.once('exit', (code, signal) => finish(new Error(`client process exited (${String(code ?? signal)}) without a result`)))
    child.once('error', (err) => finish(err))
    child.send(job)
  })
}
