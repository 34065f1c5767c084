import { readFileSync, readdirSync } from 'node:fs'

/** One reading of a process's resource use, from /proc (Linux only). */
export interface ProcSample {
  /** CPU time of all threads, user + system, in ms: the sum of every thread's schedstat (ns resolution). */
  cpuMs: number
  /** The same from /proc/<pid>/stat utime + stime (clock-tick resolution, includes exited threads). */
  cpuTicksMs: number
  /** Resident set size now, in KiB (VmRSS). */
  rssKb: number
  /** Peak resident set size so far, in KiB (VmHWM). */
  peakRssKb: number
}

/** Clock ticks per second for /proc/<pid>/stat; 100 on every mainstream Linux (sysconf(_SC_CLK_TCK)). */
const CLK_TCK = 100

export function sampleProcess(pid: number): ProcSample {
  return { cpuMs: threadCpuMs(pid), cpuTicksMs: statCpuMs(pid), ...memory(pid) }
}

/** CPU used between two samples, in ms: schedstat when it is readable, else the tick counter. */
export function cpuDeltaMs(before: ProcSample, after: ProcSample): number {
  const precise = after.cpuMs - before.cpuMs
  const ticks = after.cpuTicksMs - before.cpuTicksMs
  // A thread that exited between the samples takes its schedstat with it; the tick counter keeps it.
  return Number.isFinite(precise) && precise >= 0 && precise >= ticks - 20 ? precise : ticks
}

function statCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / CLK_TCK
}

function threadCpuMs(pid: number): number {
  let ns = 0
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return Number.NaN
  }
  for (const tid of tasks) {
    try {
      const first = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]
      ns += Number(first)
    } catch {
      // The thread exited while we were listing.
    }
  }
  return ns / 1e6
}

function memory(pid: number): { rssKb: number; peakRssKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
    return match?.[1] !== undefined ? Number(match[1]) : Number.NaN
  }
  return { rssKb: field('VmRSS'), peakRssKb: field('VmHWM') }
}

/** Polls a process's RSS until it stops growing (or `maxMs` passes); returns the last reading in KiB. */
export async function settledRssKb(pid: number, maxMs = 1500): Promise<number> {
  let last = memory(pid).rssKb
  const deadline = Date.now() + maxMs
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    const now = memory(pid).rssKb
    if (Math.abs(now - last) < 64) return now
    last = now
  }
  return last
}

/** CPU time the whole machine spent busy so far (all cores, from /proc/stat), in ms. */
export function systemBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0)
  return (ticks * 1000) / CLK_TCK
}

/**
 * Waits (at most `maxWaitMs`) until the machine is quiet: less than
 * `maxBusyCores` of CPU used over a 500 ms window by anything. Returns the
 * load of the last window, in cores.
 */
export async function waitForQuiet(maxWaitMs: number, maxBusyCores = 0.15): Promise<number> {
  const deadline = Date.now() + maxWaitMs
  let load = Number.POSITIVE_INFINITY
  do {
    const before = systemBusyMs()
    const started = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 500))
    load = (systemBusyMs() - before) / (performance.now() - started)
    if (load < maxBusyCores) break
  } while (Date.now() < deadline)
  return load
}
