import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Flavor } from './raw-client.js'

export type ServerName = 'raw' | 'meridian' | 'meridian-tmpfs' | 'y-websocket' | 'hocuspocus'

export interface ServerSpec {
  name: ServerName
  label: string
  flavor: Flavor
  /** The server sends a client's own updates back to it (y-websocket and Hocuspocus broadcast to every connection). */
  echoes: boolean
  /** A peer (compared against), as opposed to Meridian itself and the raw ceiling. */
  peer: boolean
}

export const SERVERS: Record<ServerName, ServerSpec> = {
  raw: { name: 'raw', label: 'raw ws (ceiling)', flavor: 'y-websocket', echoes: false, peer: false },
  meridian: { name: 'meridian', label: 'Meridian relay', flavor: 'meridian', echoes: false, peer: false },
  'meridian-tmpfs': { name: 'meridian-tmpfs', label: 'Meridian relay, SQLite on tmpfs (diagnostic)', flavor: 'meridian', echoes: false, peer: false },
  'y-websocket': { name: 'y-websocket', label: '@y/websocket-server', flavor: 'y-websocket', echoes: true, peer: true },
  hocuspocus: { name: 'hocuspocus', label: '@hocuspocus/server', flavor: 'hocuspocus', echoes: true, peer: true }
}

export const SERVER_ORDER: readonly ServerName[] = ['raw', 'meridian', 'meridian-tmpfs', 'y-websocket', 'hocuspocus']

/** What a client process needs to know about a server under test. */
export interface ServerTarget {
  name: ServerName
  url: string
  pid: number
  flavor: Flavor
  echoes: boolean
}

export interface RunningServer extends ServerTarget {
  /** Last lines the server wrote to stderr (for failure reports). */
  stderrTail(): string
  stop(): Promise<void>
}

/** apps/bench, found from this file whether it runs from src (vitest) or dist. */
export const BENCH_ROOT = findBenchRoot()
export const REPO_ROOT = join(BENCH_ROOT, '..', '..')

function findBenchRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@meridian/bench') return dir
    dir = dirname(dir)
  }
  throw new Error('cannot find the @meridian/bench package root')
}

export const RELAY_CLI = join(REPO_ROOT, 'apps', 'relay', 'dist', 'main.js')
/** The `meridian-relay` command (it runs RELAY_CLI), whose shebang carries the node flags. */
export const RELAY_BIN = join(REPO_ROOT, 'apps', 'relay', 'bin', 'meridian-relay.js')

/**
 * The node flags the `meridian-relay` command runs with, from its shebang
 * (`#!/usr/bin/env -S node <flags>`): the relay is measured as it ships. A
 * file without that shebang throws: finding no flags silently measured the
 * relay without them once the shebang moved from dist/main.js to the bin.
 */
export function relayNodeArgs(bin = RELAY_BIN): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? ''
  const match = /^#!\S*env\s+(?:-S\s+)?node((?:\s+--\S+)*)\s*$/.exec(first)
  if (match === null) throw new Error(`${bin}: no \`#!/usr/bin/env -S node <flags>\` shebang`)
  return (match[1] ?? '').split(/\s+/).filter((a) => a.length > 0)
}

let relayHelp: string | undefined
/**
 * Flags for the relay CLI, each passed only where this build knows it: auth
 * off (the peers have none either), and the per-address connection cap and
 * per-connection rate limits lifted — every benchmark client comes from
 * 127.0.0.1 and the writers are synthetic, which real clients are not. The
 * checks themselves still run.
 */
export function relayBenchArgs(): string[] {
  relayHelp ??= execFileSync(process.execPath, [RELAY_CLI, '--help'], { encoding: 'utf8' })
  const wanted: [string, string][] = [
    ['--auth', 'none'],
    ['--max-connections', '100000'],
    ['--max-connections-per-ip', '100000'],
    ['--rate-messages-per-second', '0'],
    ['--rate-bytes-per-second', '0']
  ]
  return wanted.filter(([flag]) => new RegExp(`${flag}[ =<]`).test(relayHelp ?? '')).flat()
}

export interface StartServerOptions {
  startTimeoutMs?: number
  /** Extra command-line arguments for a peer's server script (servers/*.mjs); the Meridian relay takes none. */
  args?: readonly string[]
}

/** Starts one server under test as its own process on loopback; resolves once it listens. */
export async function startServer(name: ServerName, options: StartServerOptions = {}): Promise<RunningServer> {
  const spec = SERVERS[name]
  let dataDir: string | null = null
  let args: string[]
  if (name === 'meridian' || name === 'meridian-tmpfs') {
    if (!existsSync(RELAY_CLI)) throw new Error(`${RELAY_CLI} is missing: build it with \`npx tsc -b apps/relay\``)
    // The diagnostic variant keeps its database in memory (tmpfs: fsync returns at once), the same code otherwise.
    const base = name === 'meridian-tmpfs' && existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
    dataDir = mkdtempSync(join(base, 'meridian-bench-'))
    args = [RELAY_CLI, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', ...relayBenchArgs()]
  } else {
    args = [join(BENCH_ROOT, 'src', 'servers', `${name}.mjs`), ...(options.args ?? [])]
  }
  // For profiling a server: e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (never set for published runs).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0)
  const ownArgs = name === 'meridian' || name === 'meridian-tmpfs' ? relayNodeArgs() : []
  const child = spawn(process.execPath, [...ownArgs, ...nodeArgs, ...args], { cwd: BENCH_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr: string[] = []
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr.push(chunk)
    if (stderr.length > 50) stderr.shift()
  })
  const cleanup = (): void => {
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true })
  }
  let url: string
  try {
    url = await waitForListening(child, options.startTimeoutMs ?? 20_000, () => stderr.join(''))
  } catch (err) {
    child.kill('SIGKILL')
    cleanup()
    throw err
  }
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  child.stdout?.resume()
  const pid = child.pid
  if (pid === undefined) throw new Error(`${name}: no pid`)
  return {
    name,
    url,
    pid,
    flavor: spec.flavor,
    echoes: spec.echoes,
    stderrTail: () => stderr.join('').slice(-4000),
    stop: async () => {
      await stopChild(child)
      cleanup()
    }
  }
}

function waitForListening(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => done(new Error(`server did not start within ${timeoutMs} ms: ${stderr()}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8')
      const match = /listening on (ws:\/\/[^\s"]+)/.exec(buffered)
      if (match?.[1] !== undefined) done(null, match[1])
      else if (buffered.length > 1_000_000) buffered = buffered.slice(-10_000)
    }
    const onExit = (code: number | null): void => done(new Error(`server exited (${String(code)}) before listening: ${stderr()}`))
    const done = (err: Error | null, url?: string): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
      if (err !== null) reject(err)
      else resolve(url ?? '')
    }
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  let timer: ReturnType<typeof setTimeout> | undefined
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve()
    }, 10_000)
  })
  await Promise.race([exited, killed])
  clearTimeout(timer)
  await exited
}
