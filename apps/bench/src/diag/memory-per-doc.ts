/**
 * Memory per open document, measured after a forced GC rather than by wall
 * clock (the many-docs bench reads RSS while the heap is whatever it is).
 *
 *   npx tsc -b apps/bench && node --expose-gc apps/bench/dist/diag/memory-per-doc.js \
 *     [--docs 500] [--targets memory,sqlite,y-websocket] [--runs 1] [--snapshots DIR] [--alloc-profile DIR]
 *
 * For each target a server process of its own (forked, `--expose-gc` and the
 * node flags the server ships with) runs a Meridian relay built in-process
 * (buildRelay, as the CLI builds it for the bench: auth off, connection caps
 * and rate limits lifted) over MemoryStorageAdapter or SQLite in a temp dir,
 * or @y/websocket-server for comparison. This process drives it like
 * many-docs: per document two raw clients connect, sync, send 5 small updates
 * each and stay connected. The server measures itself after its writes are
 * flushed and GC ran, before and after; with `--snapshots` it also writes a
 * heap snapshot both times, and this process prints what grew per document
 * by constructor (heap-summary.ts). With `--alloc-profile` the server's
 * sampling heap profiler runs over the load, keeping what survived a
 * scavenge: where the garbage that grows the old generation (and RSS) is
 * allocated (alloc-profile.ts).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { RawClient, type Flavor } from '../raw-client.js'
import { openDocPairs } from '../scenarios/many-docs.js'
import { relayNodeArgs } from '../servers.js'
import { diffHeapSummaries, formatHeapRows, summarizeHeapSnapshot } from './heap-summary.js'
import { formatAllocationProfile } from './alloc-profile.js'

type Target = 'memory' | 'sqlite' | 'y-websocket'
const TARGETS: readonly Target[] = ['memory', 'sqlite', 'y-websocket']

interface Usage {
  heapUsed: number
  /** Heap committed (used or not). */
  heapTotal: number
  external: number
  arrayBuffers: number
  rss: number
  /** RSS before the forced GC, once it stopped moving: what many-docs reads (its garbage included). */
  rssNoGc: number
  /** Per V8 heap space: bytes committed and used. */
  spaces: Record<string, { committed: number; used: number }>
}

type Request =
  | { kind: 'measure'; snapshot: string | null }
  | { kind: 'profile'; action: 'start' }
  | { kind: 'profile'; action: 'stop'; file: string }
  | { kind: 'exit' }
type Reply = { kind: 'listening'; url: string } | { kind: 'measured'; usage: Usage } | { kind: 'profiled' }

const gc = (globalThis as { gc?: () => void }).gc

/**
 * Full GCs with turns in between (finalizers and weak callbacks run between
 * them), then until RSS stops moving: V8 hands freed pages back to the OS
 * on a background thread, so RSS read right after a GC still holds them.
 */
async function settle(): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  await settledRss()
}

/** RSS once it stopped moving (at most 3 s). */
async function settledRss(): Promise<number> {
  let last = process.memoryUsage.rss()
  for (let i = 0; i < 30; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = process.memoryUsage.rss()
    if (Math.abs(now - last) < 16 * 1024) return now
    last = now
  }
  return last
}

// --- The server process ---

async function serve(target: Target): Promise<void> {
  const send = (reply: Reply): void => void process.send?.(reply)
  let flush: () => Promise<void> = async () => undefined
  let stop: () => Promise<void>
  if (target === 'y-websocket') {
    const http = await import('node:http')
    const { WebSocketServer } = await import('ws')
    const { setupWSConnection } = await import('@y/websocket-server/utils')
    const server = http.createServer((_req, res) => res.end('okay'))
    const wss = new WebSocketServer({ noServer: true })
    wss.on('connection', (ws, req) => setupWSConnection(ws, req))
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    send({ kind: 'listening', url: `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}` })
    stop = () => new Promise((resolve) => server.close(() => resolve()))
  } else {
    const { buildRelay } = await import('@meridian/relay')
    const { MemoryStorageAdapter } = await import('@meridian/storage')
    const { openSqliteStorage } = await import('@meridian/storage-sqlite')
    const { pino } = await import('pino')
    const dataDir = target === 'sqlite' ? mkdtempSync(join(tmpdir(), 'meridian-memdiag-')) : null
    const storage = dataDir === null ? new MemoryStorageAdapter() : openSqliteStorage({ dataDir })
    const relay = await buildRelay({
      storage,
      logger: pino({ level: 'warn' }),
      auth: { mode: 'none' },
      maxConnections: 100_000,
      maxConnectionsPerIp: 100_000,
      rateLimit: { messagesPerSecond: 0, bytesPerSecond: 0 },
      processMetrics: true
    })
    send({ kind: 'listening', url: await relay.listen({ port: 0, host: '127.0.0.1' }) })
    flush = async () => {
      await Promise.all((await relay.rooms.loadedRooms()).map((room) => room.flush()))
      await relay.autoVersions.idle()
    }
    stop = async () => {
      await relay.close()
      await storage.close()
      if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true })
    }
  }
  process.on('message', (request: Request) => {
    switch (request.kind) {
      case 'measure':
        void (async () => {
          await flush()
          const rssNoGc = await settledRss()
          await settle()
          const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage()
          const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { committed: s.space_size, used: s.space_used_size }]))
          if (request.snapshot !== null) writeHeapSnapshot(request.snapshot)
          send({ kind: 'measured', usage: { heapUsed, heapTotal, external, arrayBuffers, rss, rssNoGc, spaces } })
        })()
        return
      case 'profile':
        void profileAllocations(request).then(() => send({ kind: 'profiled' }))
        return
      case 'exit':
        void stop().finally(() => process.exit(0))
    }
  })
}

let profiler: Session | null = null

/**
 * The sampling heap profiler, keeping the objects that outlived a scavenge
 * (promoted, then collected or not by a full GC): the garbage that grows the
 * old generation, and with it RSS, besides what stays live.
 */
async function profileAllocations(request: Extract<Request, { kind: 'profile' }>): Promise<void> {
  const post = (session: Session, method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err))))
  switch (request.action) {
    case 'start':
      profiler = new Session()
      profiler.connect()
      await post(profiler, 'HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false })
      return
    case 'stop': {
      if (profiler === null) return
      const { profile } = (await post(profiler, 'HeapProfiler.stopSampling')) as { profile: unknown }
      writeFileSync(request.file, JSON.stringify(profile))
      profiler.disconnect()
      profiler = null
    }
  }
}

// --- The driving process ---

/** One server process and a way to ask it things. */
interface ServerProcess {
  child: ChildProcess
  url: Promise<string>
  measure(snapshot: string | null): Promise<Usage>
  profile(request: Extract<Request, { kind: 'profile' }>): Promise<void>
}

function startServerProcess(target: Target): ServerProcess {
  const self = fileURLToPath(import.meta.url)
  // Each server with the node flags it ships with, as the benchmarks run them.
  const ownArgs = [...(target === 'y-websocket' ? [] : relayNodeArgs()), ...(process.env.MEMDIAG_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')]
  const child = fork(self, ['--serve', target], { execArgv: ['--expose-gc', ...ownArgs], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let waiter: ((reply: Reply) => void) | null = null
  const url = new Promise<string>((resolve, reject) => {
    waiter = (reply) => {
      if (reply.kind === 'listening') resolve(reply.url)
    }
    child.once('exit', (code) => reject(new Error(`${target} server exited (${code})`)))
  })
  child.on('message', (reply: Reply) => waiter?.(reply))
  return {
    child,
    url,
    measure: (snapshot) => new Promise((resolve) => {
      waiter = (reply) => {
        if (reply.kind === 'measured') resolve(reply.usage)
      }
      child.send({ kind: 'measure', snapshot } satisfies Request)
    }),
    profile: (request) => new Promise((resolve) => {
      waiter = (reply) => {
        if (reply.kind === 'profiled') resolve()
      }
      child.send(request)
    })
  }
}

/** many-docs' load, on a server this diagnostic started (@y/websocket-server echoes a client's own updates). */
const openDocuments = (url: string, flavor: Flavor, prefix: string, docs: number, perClient: number): Promise<RawClient[]> =>
  openDocPairs({ url, flavor, echoes: flavor === 'y-websocket', prefix, docs, perClient, concurrency: 50 })

/** Documents open before the baseline. */
const WARM_UP_DOCS = 100

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

/** Per document, in bytes. */
interface PerDoc {
  heap: number
  rss: number
  rssNoGc: number
}

async function measureTarget(target: Target, docs: number, snapshotDir: string | null, profileDir: string | null): Promise<PerDoc> {
  const server = startServerProcess(target)
  try {
    const url = await server.url
    const flavor: Flavor = target === 'y-websocket' ? 'y-websocket' : 'meridian'
    const snap = (name: string): string | null => (snapshotDir === null ? null : join(snapshotDir, `${target}-${name}.heapsnapshot`))
    // Documents opened first (and kept open) warm up the code and one-off state: what the next ones
    // add is the cost of one more open document, not of the first.
    const warm = await openDocuments(url, flavor, 'warm-up', WARM_UP_DOCS, 5)
    const before = await server.measure(snap('before'))
    const profileFile = profileDir === null ? null : join(profileDir, `${target}.heapprofile`)
    if (profileFile !== null) await server.profile({ kind: 'profile', action: 'start' })
    const clients = await openDocuments(url, flavor, 'memdiag', docs, 5)
    if (profileFile !== null) await server.profile({ kind: 'profile', action: 'stop', file: profileFile })
    const after = await server.measure(snap('after'))
    clients.push(...warm)
    const perDoc = (k: Exclude<keyof Usage, 'spaces'>): number => (after[k] - before[k]) / docs
    const per = (k: Exclude<keyof Usage, 'spaces'>): string => kb(perDoc(k))
    console.log(`${target}: ${docs} documents × 2 clients, per document: heap ${per('heapUsed')} (committed ${per('heapTotal')}), external ${per('external')} (array buffers ${per('arrayBuffers')}), RSS ${per('rss')} (before the forced GC ${per('rssNoGc')})`)
    const spaces = Object.keys(after.spaces).flatMap((name) => {
      const [a, b] = [after.spaces[name], before.spaces[name]]
      const used = ((a?.used ?? 0) - (b?.used ?? 0)) / docs
      const committed = ((a?.committed ?? 0) - (b?.committed ?? 0)) / docs
      return Math.abs(used) < 50 && Math.abs(committed) < 50 ? [] : [`${name} ${kb(used)} used, ${kb(committed)} committed`]
    })
    console.log(`  heap spaces per document: ${spaces.join('; ')}`)
    await Promise.all(clients.map((c) => c.close()))
    if (snapshotDir !== null) {
      const rows = diffHeapSummaries(summarizeHeapSnapshot(snap('before')!), summarizeHeapSnapshot(snap('after')!), docs)
      const total = rows.reduce((sum, row) => sum + row.selfBytes, 0)
      console.log(`\n${target}: heap snapshot growth per document ${kb(total)} (self sizes), by own bytes:\n${formatHeapRows(rows, 'selfBytes', 35)}`)
      console.log(`\n${target}: by retained bytes:\n${formatHeapRows(rows, 'retainedBytes', 25)}\n`)
    }
    if (profileFile !== null) {
      console.log(`\n${target}: allocated per document by objects that outlived a scavenge (live or promoted garbage), by function:\n${formatAllocationProfile(profileFile, docs, 30)}\n`)
    }
    return { heap: perDoc('heapUsed'), rss: perDoc('rss'), rssNoGc: perDoc('rssNoGc') }
  } finally {
    server.child.send({ kind: 'exit' } satisfies Request)
    await new Promise((resolve) => server.child.once('exit', resolve))
  }
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i === -1 ? undefined : argv[i + 1]
  }
  const serveTarget = arg('serve')
  if (serveTarget !== undefined) return serve(serveTarget as Target)
  const docs = Number(arg('docs') ?? 500)
  const targets = (arg('targets') ?? TARGETS.join(',')).split(',') as Target[]
  const unknown = targets.filter((t) => !TARGETS.includes(t))
  if (!Number.isInteger(docs) || docs < 1 || unknown.length > 0) throw new Error(`usage: --docs <n ≥ 1> --targets ${TARGETS.join(',')}`)
  const snapshotDir = arg('snapshots') ?? null
  const profileDir = arg('alloc-profile') ?? null
  // RSS moves by a few KB per document from run to run (when V8 and malloc hand pages back); the heap does not.
  const runs = Number(arg('runs') ?? 1)
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs <n ≥ 1>')
  for (const target of targets) {
    const results: PerDoc[] = []
    for (let i = 0; i < runs; i++) results.push(await measureTarget(target, docs, snapshotDir, profileDir))
    if (runs === 1) continue
    const median = (k: keyof PerDoc): string => kb(results.map((r) => r[k]).sort((x, y) => x - y)[Math.floor(runs / 2)] ?? Number.NaN)
    console.log(`${target}: median of ${runs} runs per document: heap ${median('heap')}, RSS ${median('rss')} (before the forced GC ${median('rssNoGc')})`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
