import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter, docFromStored, type StorageAdapter } from '@meridian/storage'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { buildRelay, type Relay, type RelayOptions } from '@meridian/relay'
import { docsCommand, type DocsCliIo } from './docs-cli.js'

const ADMIN = 'docs-cli-admin-token-0123'
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-docs-cli-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function relay(storage: StorageAdapter = new MemoryStorageAdapter(), options: Partial<RelayOptions> = {}): Promise<{ relay: Relay; url: string }> {
  const r = await buildRelay({ storage, nodeId: 'cli', region: 'eu', adminToken: ADMIN, ...options })
  cleanups.push(() => r.close())
  const url = (await r.listen({ port: 0, host: '127.0.0.1' })).replace(/^ws/, 'http')
  return { relay: r, url }
}

function io(overrides: Partial<DocsCliIo> = {}): DocsCliIo & { stdout: string[]; stderr: string[]; bytes: Uint8Array[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  const bytes: Uint8Array[] = []
  return {
    fetch,
    out: (s) => stdout.push(s),
    outBytes: (b) => bytes.push(b),
    err: (s) => stderr.push(s),
    openStorage: async () => new MemoryStorageAdapter(),
    ...overrides,
    stdout,
    stderr,
    bytes
  }
}

function textUpdate(text: string): Uint8Array {
  const d = new Y.Doc()
  d.getText('content').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

const env = { MERIDIAN_ADMIN_TOKEN: ADMIN }

describe('meridian-relay docs (online)', () => {
  it('put --create, ls, get (bytes and --json), put, rm against a running relay', async () => {
    const { url } = await relay()
    const dir = tempDir()
    writeFileSync(join(dir, 'a.bin'), textUpdate('alpha'))
    const run = async (...argv: string[]): Promise<ReturnType<typeof io> & { code: number }> => {
      const x = io()
      const code = await docsCommand(argv, env, x)
      return Object.assign(x, { code })
    }
    expect((await run('put', 'team/a', '--url', url, '--file', join(dir, 'a.bin'), '--create')).code).toBe(0)
    const again = await run('put', 'team/a', '--url', url, '--file', join(dir, 'a.bin'), '--create')
    expect(again.code).toBe(1)
    expect(again.stderr.join('')).toContain('409 ERR_DOC_EXISTS')
    const put = await run('put', 'team/a', '--url', url, '--file', join(dir, 'a.bin'))
    expect(JSON.parse(put.stdout.join(''))).toMatchObject({ changed: false, durability: 'relay' })
    const ls = await run('ls', '--url', url, '--prefix', 'team/')
    expect(ls.stdout.join('')).toMatch(/^team\/a\t\d+\t1\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$/)
    const json = await run('get', 'team/a', '--url', url, '--json')
    expect(JSON.parse(json.stdout.join(''))).toMatchObject({ data: { content: 'alpha' } })
    const out = join(dir, 'out.bin')
    expect((await run('get', 'team/a', '--url', url, '--out', out)).code).toBe(0)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, readFileSync(out))
    expect(doc.getText('content').toString()).toBe('alpha')
    expect(JSON.parse((await run('rm', 'team/a', '--url', url)).stdout.join(''))).toMatchObject({ deleted: true })
    expect((await run('get', 'team/a', '--url', url)).stderr.join('')).toContain('410 ERR_DOC_DELETED')
  })

  it('refuses a bad command line (exit 2) and reports a missing token (exit 1)', async () => {
    const { url } = await relay()
    const x = io()
    expect(await docsCommand(['frobnicate', '--url', url], env, x)).toBe(2)
    expect(await docsCommand(['get', '--url', url], env, io())).toBe(2)
    expect(await docsCommand(['ls'], {}, io())).toBe(2)
    const noToken = io()
    expect(await docsCommand(['ls', '--url', url], {}, noToken)).toBe(1)
    expect(noToken.stderr.join('')).toContain('ERR_AUTH_REQUIRED')
  })

  it('exports and imports through the HTTP API, idempotently and verified', async () => {
    const source = await relay()
    const target = await relay()
    for (const name of ['x/1', 'x/2', 'y']) {
      await fetch(`${source.url}/v1/docs/${encodeURIComponent(name)}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}` }, body: new Uint8Array(textUpdate(name)) })
    }
    const archive = join(tempDir(), 'backup.ndjson')
    expect(await docsCommand(['export', '--url', source.url, '--out', archive, '--prefix', 'x/'], env, io())).toBe(0)
    for (let run = 0; run < 2; run++) {
      const x = io()
      expect(await docsCommand(['import', '--url', target.url, '--in', archive], env, x)).toBe(0)
      expect(x.stderr.join('')).toContain(run === 0 ? '2 changed, 0 already there' : '0 changed, 2 already there')
    }
    const ls = io()
    await docsCommand(['ls', '--url', target.url], env, ls)
    expect(ls.stdout.join('').split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(['x/1', 'x/2'])
  })

  it('waits out the relay\'s request rate (429 Retry-After) instead of failing an export', async () => {
    const storage = new MemoryStorageAdapter()
    for (const name of ['r/1', 'r/2']) await storage.append(name, textUpdate(name))
    // Three requests (the listing, two documents) against a burst of two: the third is answered 429 once.
    const { url } = await relay(storage, { httpRateLimit: { requestsPerSecond: 10, burstRequests: 2 } })
    const statuses: number[] = []
    const counting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      statuses.push(res.status)
      return res
    }
    const archive = join(tempDir(), 'limited.ndjson')
    expect(await docsCommand(['export', '--url', url, '--out', archive], env, io({ fetch: counting }))).toBe(0)
    expect(statuses).toContain(429)
    expect(statuses.at(-1)).toBe(200)
    expect(readFileSync(archive, 'utf8')).toContain('"end":true,"docs":2')
  })
})

describe('meridian-relay docs (offline backup and restore)', () => {
  it('exports a data directory, imports idempotently (one stored row per document), and finishes an import that failed midway', async () => {
    const srcDir = tempDir()
    const src = openSqliteStorage({ dataDir: srcDir })
    // Several stored updates per document, a compaction, and a deletion.
    for (let i = 0; i < 5; i++) {
      const d = new Y.Doc()
      d.getText('content').insert(0, `doc ${i}`)
      const first = Y.encodeStateAsUpdate(d)
      await src.append(`d${i}`, first)
      d.getText('content').insert(0, 'more ')
      await src.append(`d${i}`, Y.encodeStateAsUpdate(d, Y.encodeStateVector(docFromStored({ snapshot: null, snapshotSeq: 0, updates: [{ seq: 1, data: first }] }))))
    }
    await src.tombstone('gone', 123)
    await src.close()
    const archive = join(tempDir(), 'backup.ndjson')
    const sqliteIo = (dataDir: string, extra: Partial<DocsCliIo> = {}): ReturnType<typeof io> => io({ openStorage: async () => openSqliteStorage({ dataDir }), ...extra })
    expect(await docsCommand(['export', '--data-dir', srcDir, '--out', archive], {}, sqliteIo(srcDir))).toBe(0)
    const lines = readFileSync(archive, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines[0]).toMatchObject({ format: 'meridian-docs', version: 1 })
    expect(lines.at(-1)).toEqual({ end: true, docs: 5, tombstones: 1 })

    const dstDir = tempDir()
    // Fails after the second document (a crash midway): what was written stays, and the rerun finishes.
    const failing = sqliteIo(dstDir, { afterDocument: (i) => { if (i === 1) throw new Error('injected failure after 2 documents') } })
    expect(await docsCommand(['import', '--data-dir', dstDir, '--in', archive], {}, failing)).toBe(1)
    expect(failing.stderr.join('')).toContain('injected failure')
    for (let run = 0; run < 2; run++) {
      const x = sqliteIo(dstDir)
      expect(await docsCommand(['import', '--data-dir', dstDir, '--in', archive], {}, x)).toBe(0)
      expect(x.stderr.join('')).toContain(run === 0 ? '(3 written, 2 already there), 1 deletions' : '(0 written, 5 already there), 0 deletions')
    }
    const a = openSqliteStorage({ dataDir: srcDir })
    const b = openSqliteStorage({ dataDir: dstDir })
    cleanups.push(() => a.close(), () => b.close())
    for (let i = 0; i < 5; i++) {
      const stored = await b.load(`d${i}`)
      expect(stored?.updates.length).toBe(1)
      expect(docFromStored(stored).getText('content').toString()).toBe(docFromStored(await a.load(`d${i}`)).getText('content').toString())
    }
    expect(await b.loadTombstone('gone')).toEqual({ docName: 'gone', deletedAtMs: 123 })
  })

  it('refuses a truncated or tampered archive before writing anything', async () => {
    const dir = tempDir()
    const update = textUpdate('a')
    const line = (sha256: string): string => JSON.stringify({ doc: 'a', update: Buffer.from(update).toString('base64'), stateVector: '', sha256 })
    const header = JSON.stringify({ format: 'meridian-docs', version: 1, createdAt: new Date(0).toISOString() })
    const end = JSON.stringify({ end: true, docs: 1, tombstones: 0 })
    const tampered = [header, line('0'.repeat(64)), end]
    const truncated = [header, line(createHash('sha256').update(update).digest('hex'))]
    const target = new MemoryStorageAdapter()
    for (const [name, lines] of [['tampered', tampered], ['truncated', truncated]] as const) {
      const path = join(dir, `${name}.ndjson`)
      writeFileSync(path, lines.join('\n'))
      const x = io({ openStorage: async () => target })
      expect(await docsCommand(['import', '--data-dir', dir, '--in', path], {}, x)).toBe(1)
      expect(x.stderr.join('')).toMatch(name === 'tampered' ? /checksum mismatch/ : /truncated/)
    }
    expect(await target.list()).toEqual([])
  })
})
