/**
 * `meridian-relay docs ls|get|put|rm|export|import`: the document API from the
 * command line (README "Documents from your backend"). Against a running relay
 * (`--url`, `--token` or MERIDIAN_ADMIN_TOKEN), or — export and import only —
 * offline against its storage (`--data-dir` or `--postgres`) for backup and
 * restore (archive format: docs-archive.ts).
 */
import { createReadStream } from 'node:fs'
import { readFile, writeFile, appendFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import type { StorageAdapter } from '@meridian/storage'
import { versionsCommand } from './versions-cli.js'
import { ArchiveError, docLine, endLine, exportStorage, headerLine, importIntoStorage, parseArchive, type ArchiveContents } from './docs-archive.js'

export const DOCS_USAGE = `Usage: meridian-relay docs <command> [options]

Against a running relay (--url, and --token or MERIDIAN_ADMIN_TOKEN: the admin token or a JWT):
  ls [--prefix p] [--json]                  list documents (name, stored bytes, last seq, last change)
  get <name> [--json [--types a:text,...]] [--out file]
                                            the document as a Yjs update (or its JSON projection)
  put <name> --file <update|-> [--create] [--wait-for replicated:<k>] [--timeout-ms n]
                                            apply a Yjs update (--create: the document must not exist)
  rm <name>                                 delete the document (final: tombstoned in every region)
  export --out <archive|-> [--prefix p]     back up every document to an archive
  import --in <archive> [--progress]        restore an archive (idempotent, verified; --progress: a line per document)
  versions ls|create|get|diff|restore <doc> a document's versions (docs versions --help)

Offline, for backup and restore (the relays on that storage stopped for import):
  export --data-dir <dir> | --postgres <url>  --out <archive|-> [--prefix p]
  import --data-dir <dir> | --postgres <url>  --in <archive>

Options:
  --url <url>          the relay, e.g. http://127.0.0.1:8080 (MERIDIAN_URL)
  --token <t>          bearer token (MERIDIAN_ADMIN_TOKEN)
  --help               print this and exit
`

export interface DocsCliIo {
  fetch: typeof fetch
  out: (s: string) => void
  outBytes: (b: Uint8Array) => void
  err: (s: string) => void
  /** Opens the storage of an offline export/import. */
  openStorage: (target: { dataDir: string } | { postgres: string }) => Promise<StorageAdapter>
  /** Runs after each imported document (tests inject failures here). */
  afterDocument?: (index: number) => void
}

/** A command line `docs` cannot run (exit code 2). */
export class DocsUsageError extends Error {
  readonly code = 'ERR_CLI_USAGE'
}
const UsageError = DocsUsageError
class RequestError extends Error {}

const COMMANDS = ['ls', 'get', 'put', 'rm', 'export', 'import'] as const

/** Parses a `docs` command line without running it (the README check uses it too); throws DocsUsageError. */
export function parseDocsArgs(argv: string[]) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, token: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' },
        types: { type: 'string' }, out: { type: 'string' }, in: { type: 'string' }, file: { type: 'string' },
        create: { type: 'boolean' }, 'wait-for': { type: 'string' }, 'timeout-ms': { type: 'string' },
        'data-dir': { type: 'string' }, postgres: { type: 'string' }, progress: { type: 'boolean' }, help: { type: 'boolean' }
      }
    })
  } catch (e) {
    throw new DocsUsageError((e as Error).message)
  }
  const [command, name, ...extra] = parsed.positionals
  if (parsed.values.help !== true && !COMMANDS.includes(command as (typeof COMMANDS)[number])) throw new DocsUsageError(`unknown command ${JSON.stringify(command ?? '')}`)
  return { command, name, extra, values: parsed.values }
}

/** Runs the subcommand; returns the process exit code (0 done, 1 failed, 2 bad usage). */
export async function docsCommand(argv: string[], env: Record<string, string | undefined>, io: DocsCliIo): Promise<number> {
  if (argv[0] === 'versions') return versionsCommand(argv.slice(1), env, io, (url, token) => new Api(io.fetch, url, token))
  let parsed
  try {
    parsed = parseDocsArgs(argv)
  } catch (e) {
    io.err(`meridian-relay docs: ${(e as Error).message}\n\n${DOCS_USAGE}`)
    return 2
  }
  const { values: v, command, name, extra } = parsed
  if (v.help === true) {
    io.out(DOCS_USAGE)
    return 0
  }
  try {
    if (extra.length > 0) throw new UsageError(`unexpected ${extra.join(' ')}`)
    const offline = v['data-dir'] !== undefined || v.postgres !== undefined
    if (offline) return await runOffline(command ?? '', v, io)
    const url = (v.url ?? env.MERIDIAN_URL)?.replace(/\/+$/, '')
    if (url === undefined) throw new UsageError('give --url (or MERIDIAN_URL), or --data-dir / --postgres for an offline export or import')
    const api = new Api(io.fetch, url, v.token ?? env.MERIDIAN_ADMIN_TOKEN)
    const needName = (): string => {
      if (name === undefined || name === '') throw new UsageError(`${command ?? ''} needs a document name`)
      return name
    }
    switch (command) {
      case 'ls': {
        for await (const d of api.list(v.prefix ?? '')) io.out(v.json === true ? `${JSON.stringify(d)}\n` : `${d.name}\t${d.bytes}\t${d.lastSeq}\t${lastChange(d.lastChangeAtMs)}\n`)
        return 0
      }
      case 'get': {
        const doc = enc(needName())
        if (v.json === true) {
          const body = await api.json('GET', `/v1/docs/${doc}/json${v.types !== undefined ? `?types=${encodeURIComponent(v.types)}` : ''}`)
          await output(v.out, `${JSON.stringify(body, null, 2)}\n`, io)
        } else await output(v.out, await api.bytes(`/v1/docs/${doc}`), io)
        return 0
      }
      case 'put': {
        const doc = enc(needName())
        if (v.file === undefined) throw new UsageError('put needs --file <update> (- for stdin)')
        const body = v.file === '-' ? await readStdin() : new Uint8Array(await readFile(v.file))
        const query = new URLSearchParams()
        if (v['wait-for'] !== undefined) query.set('waitFor', v['wait-for'])
        if (v['timeout-ms'] !== undefined) query.set('timeoutMs', v['timeout-ms'])
        const qs = query.size > 0 ? `?${query.toString()}` : ''
        const result = v.create === true ? await api.json('PUT', `/v1/docs/${doc}`, body) : await api.json('POST', `/v1/docs/${doc}/updates${qs}`, body)
        io.out(`${JSON.stringify(result)}\n`)
        return 0
      }
      case 'rm':
        io.out(`${JSON.stringify(await api.json('DELETE', `/v1/docs/${enc(needName())}`))}\n`)
        return 0
      case 'export': {
        const sink = archiveSink(v.out, io)
        await sink(headerLine(new Date()))
        let docs = 0
        for await (const d of api.list(v.prefix ?? '')) {
          const update = await api.bytes(`/v1/docs/${enc(d.name)}`, true)
          if (update === null) continue // deleted since the listing
          await sink(docLine(d.name, update))
          docs++
        }
        await sink(endLine(docs, 0))
        io.err(`exported ${docs} documents\n`)
        return 0
      }
      case 'import': {
        const archive = await readArchive(v.in)
        let written = 0
        for (const [i, d] of archive.docs.entries()) {
          const result = (await api.json('POST', `/v1/docs/${enc(d.name)}/updates`, d.update)) as { changed?: boolean }
          if (result.changed === true) written++
          // Verified: what the relay now holds contains the archived state.
          const held = new Y.Doc()
          Y.applyUpdate(held, await api.bytes(`/v1/docs/${enc(d.name)}`))
          const before = Y.encodeSnapshot(Y.snapshot(held))
          Y.applyUpdate(held, d.update)
          const same = Buffer.compare(before, Y.encodeSnapshot(Y.snapshot(held))) === 0
          held.destroy()
          if (!same) throw new ArchiveError(`${JSON.stringify(d.name)}: the relay does not hold the archived state after the import`)
          if (v.progress === true) io.err(`imported ${d.name}\n`)
          io.afterDocument?.(i)
        }
        for (const t of archive.tombstones) await api.json('DELETE', `/v1/docs/${enc(t.name)}`, undefined, [404])
        io.err(`imported ${archive.docs.length} documents (${written} changed, ${archive.docs.length - written} already there), ${archive.tombstones.length} deletions\n`)
        return 0
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`meridian-relay docs: ${e.message}\n\n${DOCS_USAGE}`)
      return 2
    }
    io.err(`meridian-relay docs: ${(e as Error).message}\n`)
    return 1
  }
}

type Values = Record<string, string | boolean | undefined>

async function runOffline(command: string, v: Values, io: DocsCliIo): Promise<number> {
  if (v['data-dir'] !== undefined && v.postgres !== undefined) throw new UsageError('give --data-dir or --postgres, not both')
  if (v.url !== undefined) throw new UsageError('--url is for a running relay; offline commands take --data-dir or --postgres')
  const target = typeof v.postgres === 'string' ? { postgres: v.postgres } : { dataDir: v['data-dir'] as string }
  if (command !== 'export' && command !== 'import') throw new UsageError(`${command} needs a running relay (--url); offline: export, import`)
  // Parsed and checked whole before the storage is even opened: a bad archive writes nothing.
  const archive = command === 'import' ? await readArchive(typeof v.in === 'string' ? v.in : undefined) : null
  const storage = await io.openStorage(target)
  try {
    if (archive === null) {
      const r = await exportStorage(storage, archiveSink(typeof v.out === 'string' ? v.out : undefined, io), typeof v.prefix === 'string' ? { prefix: v.prefix } : {})
      io.err(`exported ${r.docs} documents, ${r.tombstones} deletions\n`)
    } else {
      const r = await importIntoStorage(storage, archive, {
        afterDocument: (i) => {
          if (v.progress === true) io.err(`imported ${archive.docs[i]?.name ?? ''}\n`)
          io.afterDocument?.(i)
        }
      })
      io.err(`imported ${archive.docs.length} documents (${r.written} written, ${r.skipped} already there), ${r.tombstones} deletions\n`)
    }
    return 0
  } finally {
    await storage.close()
  }
}

/** Where archive lines go: a file (created afresh), or stdout for '-'. */
function archiveSink(out: string | undefined, io: DocsCliIo): (chunk: string) => Promise<void> {
  if (out === undefined) throw new UsageError('export needs --out <archive> (- for stdout)')
  if (out === '-') return async (chunk) => io.out(chunk)
  let first = true
  return async (chunk) => {
    if (first) await writeFile(out, chunk)
    else await appendFile(out, chunk)
    first = false
  }
}

async function readArchive(path: string | undefined): Promise<ArchiveContents> {
  if (path === undefined) throw new UsageError('import needs --in <archive>')
  const lines: string[] = []
  const reader = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  for await (const line of reader) lines.push(line)
  return parseArchive(lines)
}

async function output(path: string | undefined, data: string | Uint8Array, io: DocsCliIo): Promise<void> {
  if (path !== undefined && path !== '-') await writeFile(path, data)
  else if (typeof data === 'string') io.out(data)
  else io.outBytes(data)
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

const enc = (name: string): string => encodeURIComponent(name)
/** `ls`'s last-change column: ISO 8601 UTC, or '-' when the storage did not record it (older database). */
const lastChange = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString())

/** 429 answers one request may get before the command gives up. */
const MAX_RATE_LIMIT_RETRIES = 30

/** The wait a `Retry-After` (seconds) asks for, between 1 and 60 s. */
function retryAfterMs(header: string | null): number {
  const seconds = Number(header)
  return Math.min(60, Math.max(1, Number.isFinite(seconds) ? seconds : 1)) * 1000
}

/** The relay's HTTP API; errors become RequestError with the relay's code (a 429 is retried after its Retry-After). */
class Api {
  constructor(private readonly fetchFn: typeof fetch, private readonly base: string, private readonly token: string | undefined) {}

  /** A string body is JSON; bytes are a Yjs update. */
  private async call(method: string, path: string, body?: Uint8Array | string, allow: number[] = []): Promise<Response | null> {
    const headers: Record<string, string> = {}
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'application/json' : 'application/octet-stream'
    const init = { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body) } : {}) }
    let res = await this.fetchFn(`${this.base}${path}`, init)
    // Over the relay's request rate (a large export or import): wait as told, a bounded number of times.
    for (let retry = 0; res.status === 429 && retry < MAX_RATE_LIMIT_RETRIES; retry++) {
      await res.arrayBuffer()
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs(res.headers.get('retry-after'))))
      res = await this.fetchFn(`${this.base}${path}`, init)
    }
    if (res.ok) return res
    if (allow.includes(res.status)) return null
    const text = await res.text()
    let detail = text
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
      if (e?.code !== undefined) detail = `${e.code}: ${e.message ?? ''}`
    } catch {
      // Not the API's JSON (a proxy's page): shown as it is.
    }
    throw new RequestError(`${method} ${path} → ${res.status} ${detail}`)
  }

  async json(method: string, path: string, body?: Uint8Array | string, allow: number[] = []): Promise<unknown> {
    const res = await this.call(method, path, body, allow)
    return res === null ? null : res.json()
  }

  bytes(path: string): Promise<Uint8Array>
  bytes(path: string, allowGone: true): Promise<Uint8Array | null>
  async bytes(path: string, allowGone = false): Promise<Uint8Array | null> {
    const res = await this.call('GET', path, undefined, allowGone ? [404, 410] : [])
    return res === null ? null : new Uint8Array(await res.arrayBuffer())
  }

  async *list(prefix: string): AsyncGenerator<{ name: string; bytes: number; lastSeq: number; lastChangeAtMs: number | null }> {
    let cursor = ''
    // Bounded by the relay's documents: each page moves the cursor forward.
    for (;;) {
      const page = (await this.json('GET', `/v1/docs?limit=1000&prefix=${encodeURIComponent(prefix)}&cursor=${cursor}`)) as { documents: { name: string; bytes: number; lastSeq: number; lastChangeAtMs: number | null }[]; nextCursor: string | null }
      yield * page.documents
      if (page.nextCursor === null) return
      cursor = page.nextCursor
    }
  }
}
