import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { FEATURE_ACKS, PROTOCOL_VERSION, decodeMessage, encodeMessage, type Message } from '@meridian/protocol'
import { freePort, startFaultProxy, type FaultProxy } from '@meridian/testing'

const RELAY_MAIN = fileURLToPath(new URL('../../../relay/dist/main.js', import.meta.url))

export interface BenchRelay {
  nodeId: string
  region: string
  url: string
  dataDir: string
  proxy: FaultProxy
  child: ChildProcess
}

export { freePort }

/** Relay processes (the real CLI), one per entry, each behind a fault proxy that other relays dial. */
export async function startMeshRelays(
  specs: { nodeId: string; region: string; dataDir?: string }[],
  timing: { heartbeatIntervalMs: number; suspectAfterMs: number; downAfterMs: number; antiEntropyIntervalMs: number },
  extraArgs: string[],
  /** Relays link to each other directly, not through their proxies (whose process may be the bottleneck). */
  direct = false
): Promise<{ relays: BenchRelay[]; close: () => Promise<void> }> {
  const secret = randomBytes(16).toString('hex')
  const relays: BenchRelay[] = []
  let seed: string | null = null
  for (const spec of specs) {
    const port = await freePort()
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, name: spec.nodeId })
    const dataDir = spec.dataDir ?? mkdtempSync(join(tmpdir(), `meridian-bench-${spec.nodeId}-`))
    const args = [
      RELAY_MAIN, '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--region', spec.region, '--node-id', spec.nodeId,
      '--cluster-secret', secret, '--advertise-url', direct ? `ws://127.0.0.1:${port}` : proxy.url, '--log-level', process.env.MERIDIAN_BENCH_RELAY_LOG_LEVEL ?? 'warn',
      '--heartbeat-interval-ms', String(timing.heartbeatIntervalMs), '--suspect-after-ms', String(timing.suspectAfterMs),
      '--down-after-ms', String(timing.downAfterMs), '--anti-entropy-interval-ms', String(timing.antiEntropyIntervalMs),
      ...(seed !== null ? ['--peer', seed] : []), ...extraArgs
    ]
    const child = await spawnRelay(args.slice(1), spec.nodeId)
    seed ??= direct ? `ws://127.0.0.1:${port}` : proxy.url
    relays.push({ nodeId: spec.nodeId, region: spec.region, url: `ws://127.0.0.1:${port}`, dataDir, proxy, child })
  }
  return {
    relays,
    close: async () => {
      for (const r of relays) {
        r.child.kill('SIGKILL')
        await r.proxy.close()
        rmSync(r.dataDir, { recursive: true, force: true })
      }
    }
  }
}

/** Starts the relay CLI with `args` and resolves once it printed its "listening on" line. */
export async function spawnRelay(args: string[], name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [RELAY_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  if (process.env.MERIDIAN_BENCH_RELAY_LOG !== undefined) { const { createWriteStream } = await import('node:fs'); const f = createWriteStream(`${process.env.MERIDIAN_BENCH_RELAY_LOG}-${name}.log`); child.stdout?.pipe(f); child.stderr?.pipe(f) }
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`relay ${name} did not start:\n${out}`)), 60_000)
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      if (out.includes('listening on')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()))
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`relay ${name} exited (${code}):\n${out}`))
    })
  })
  return child
}

export async function cluster<T>(relay: BenchRelay): Promise<T> {
  const res = await fetch(relay.url.replace('ws://', 'http://') + '/v1/cluster')
  return (await res.json()) as T
}

/** Polls until `check` holds, bounded. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs: number, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A bare Meridian protocol client: sends updates, reports every update it receives. */
export class BenchClient {
  readonly doc = new Y.Doc()
  private constructor(readonly socket: WebSocket) {}

  static open(url: string, docName: string, onUpdate?: (update: Uint8Array) => void): Promise<BenchClient> {
    const socket = new WebSocket(`${url}/${encodeURIComponent(docName)}`, { perMessageDeflate: false })
    const client = new BenchClient(socket)
    return new Promise((resolve, reject) => {
      socket.on('message', (data: Buffer) => {
        const m: Message = decodeMessage(new Uint8Array(data))
        if (m.type === 'sync-step1') client.send({ type: 'sync-step2', update: Y.encodeStateAsUpdate(client.doc, m.stateVector) })
        if (m.type === 'sync-step2' || m.type === 'sync-update') {
          Y.applyUpdate(client.doc, m.update, 'remote')
          onUpdate?.(m.update)
        }
      })
      socket.once('open', () => {
        client.send({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: '', region: '', features: FEATURE_ACKS })
        client.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(client.doc) })
        resolve(client)
      })
      socket.once('error', reject)
    })
  }

  send(m: Message): void {
    this.socket.send(encodeMessage(m))
  }

  close(): void {
    this.socket.close()
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
