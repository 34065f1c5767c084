/**
 * Backup and restore across storages (README "Backup and restore"): documents
 * written by clients to a SQLite relay are exported from its data directory
 * while it runs, imported into the PostgreSQL storage of a region (an import
 * SIGKILLed midway, then rerun), and the region's relays serve identical
 * documents. Needs PostgreSQL and Redis (helpers/services.ts for the skip rule).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FEATURE_ACKS } from '@meridian/protocol'
import { RawClient, docFingerprint, relayView, resolveRelayMain, startRelayProcess, waitUntil, type RelayProcess } from '@meridian/testing'
import { checkPostgres, checkRedis, provisionRegion, requireServices } from './helpers/services.js'

const services = await requireServices('backup/restore into a PostgreSQL region', { postgres: checkPostgres(), redis: checkRedis() })
const MAIN = resolveRelayMain()
/** What a client sees of a document: its roots as the writers typed them. */
const view = (doc: Y.Doc): unknown => ({ ...docFingerprint(doc), content: { content: doc.getText('content').toString(), items: doc.getArray('items').toJSON() } })
const DOCS = Array.from({ length: 12 }, (_, i) => `notes/${i}`)

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function relay(args: string[]): Promise<RelayProcess> {
  const p = await startRelayProcess(args)
  cleanups.push(() => p.kill('SIGTERM'))
  return p
}

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'docs', ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stderr: r.stderr }
}

/** Runs an import and SIGKILLs it once it reported `after` documents done. */
function importKilledAfter(args: string[], after: number): Promise<{ signal: NodeJS.Signals | null; done: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'docs', ...args, '--progress'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let done = 0
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      done += chunk.split('\n').filter((l) => l.startsWith('imported ')).length
      if (done >= after) child.kill('SIGKILL')
    })
    child.once('error', reject)
    child.once('exit', (_code, signal) => resolve({ signal, done }))
  })
}

describe.skipIf(services === null)('backup and restore', () => {
  it('exports a running SQLite relay, imports into a PostgreSQL region (killed midway, rerun), and clients see identical documents', async () => {
    if (services === null) return
    const dir = mkdtempSync(join(tmpdir(), 'meridian-backup-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const dataDir = join(dir, 'data')
    const source = await relay(['--data-dir', dataDir, '--auth', 'none'])
    for (const [i, name] of DOCS.entries()) {
      const c = await RawClient.connect(source.url, name, { features: FEATURE_ACKS })
      c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
      for (let k = 0; k <= i % 3; k++) c.edit((d) => d.getText('content').insert(0, `${name} edit ${k} `))
      c.edit((d) => d.getArray('items').push([i, { name }]))
      const mine = Y.encodeSnapshot(Y.snapshot(c.doc))
      await waitUntil(async () => Buffer.compare(Y.encodeSnapshot(Y.snapshot(await relayView(source.url, name))), mine) === 0, `${name} stored by the relay`)
      await c.close()
    }

    // Hot backup: the relay keeps running (SQLite WAL: the export reads a consistent state per document).
    const archive = join(dir, 'backup.ndjson')
    const exported = cli(['export', '--data-dir', dataDir, '--out', archive])
    expect(exported.stderr).toContain(`exported ${DOCS.length} documents`)
    expect(exported.status).toBe(0)
    expect(readFileSync(archive, 'utf8').trim().split('\n')).toHaveLength(DOCS.length + 2)

    const region = await provisionRegion(services.postgres as string, services.redis as string)
    cleanups.push(() => region.cleanup())
    const killed = await importKilledAfter(['import', '--postgres', region.storageUrl, '--in', archive], 4)
    expect(killed.signal).toBe('SIGKILL')
    expect(killed.done).toBeLessThan(DOCS.length)
    const rerun = cli(['import', '--postgres', region.storageUrl, '--in', archive])
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(new RegExp(`imported ${DOCS.length} documents \\(\\d+ written, \\d+ already there\\)`))
    const again = cli(['import', '--postgres', region.storageUrl, '--in', archive])
    expect(again.stderr).toContain(`(0 written, ${DOCS.length} already there)`)
    // One stored row per document: nothing duplicated by the killed run or the reruns.
    const pg = await region.storage()
    for (const name of DOCS) expect((await pg.load(name))?.updates.length, name).toBe(1)

    // The region's relays (PostgreSQL + Redis) serve what the SQLite relay serves.
    const eu1 = await relay([...region.relayArgs, '--auth', 'none', '--region', 'eu'])
    const eu2 = await relay([...region.relayArgs, '--auth', 'none', '--region', 'eu'])
    for (const name of DOCS) {
      const original = view(await relayView(source.url, name))
      expect(original).toMatchObject({ content: { content: expect.stringContaining(`${name} edit 0`) } })
      expect(view(await relayView(eu1.url, name)), name).toEqual(original)
      expect(view(await relayView(eu2.url, name)), name).toEqual(original)
    }
  })
})
