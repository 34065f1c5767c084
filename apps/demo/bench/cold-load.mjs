#!/usr/bin/env node
/**
 * Cold load of a 100k-operation document from IndexedDB in Chromium:
 * Meridian's IndexedDB store (through MeridianProvider) next to y-indexeddb.
 * Prints figures; asserts nothing.
 *
 *   npm run bench:browser -w @meridian/demo [-- --ops 100000 --runs 5]
 *
 * 1. Builds bench/page.ts with Vite and serves it on 127.0.0.1.
 * 2. In one browser process: generates the document (each operation its own
 *    Yjs transaction, so its own update: typing into a Y.Text at a cursor
 *    that jumps now and then, 10% backspaces) and stores it in the steady-state shape each system leaves
 *    behind after a long editing session — a merged state plus a tail of 150
 *    recent update records (Meridian compacts at 200 records, y-indexeddb
 *    trims at 500):
 *    - Meridian, acknowledged: the store's snapshot + tail, nothing pending;
 *    - Meridian, never acknowledged: the same plus all 100k updates still in
 *      the durable outbox (a long offline session; they are loaded back into
 *      the outbox to be sent);
 *    - y-indexeddb: written by y-indexeddb itself (its merged-state record,
 *      then one record per update of the tail).
 *    The shapes are built directly rather than by replaying 100k writes one
 *    by one, which takes many minutes (y-indexeddb: one transaction per
 *    update; Meridian: a full re-encode of the document every 200 updates).
 * 3. For each run and system, a fresh browser process on the same profile
 *    opens the page and times `new MeridianProvider(...)` → `whenLoaded`, or
 *    `new IndexeddbPersistence(...)` → `whenSynced`, and checks the text.
 *    "Cold" means a new browser process (no JS or IndexedDB connection state);
 *    the OS page cache is warm. The baseline row opens an empty database in
 *    the same way: the fixed cost every system pays.
 *
 * Chromium: /usr/bin/chromium (MERIDIAN_CHROMIUM overrides).
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = fileURLToPath(new URL('.', import.meta.url))
const demo = join(here, '..')
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const SYSTEMS = ['idb-open', 'meridian', 'meridian-store', 'meridian-pending', 'y-indexeddb']
const LABEL = {
  'idb-open': 'baseline: open an empty DB',
  'meridian-store': '  its store alone',
  meridian: 'Meridian (acknowledged)',
  'meridian-pending': 'Meridian (100% unacknowledged)',
  'y-indexeddb': 'y-indexeddb'
}

const { values } = parseArgs({ options: { ops: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' } } })
const ops = Number(values.ops)
const runs = Number(values.runs)

if (!existsSync(CHROMIUM)) {
  console.log(`cold-load bench skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set MERIDIAN_CHROMIUM)`)
  process.exit(0)
}

const { build } = await import('vite')
const { chromium } = await import('playwright-core')

const work = await mkdtemp(join(tmpdir(), 'meridian-cold-load-'))
const out = join(work, 'page')
const profile = join(work, 'profile')
await build({
  mode: 'production',
  root: here,
  configFile: join(demo, 'vite.config.ts'),
  base: '/',
  logLevel: 'warn',
  build: { outDir: out, emptyOutDir: true, sourcemap: false }
})

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '')
  const file = join(out, path === '' ? 'index.html' : path)
  if (!file.startsWith(out + sep)) return res.writeHead(404).end()
  try {
    const body = await readFile(file)
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body)
  } catch {
    res.writeHead(404).end()
  }
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`

/** One fresh browser process on the shared profile: open the page, wait for its result. */
async function inBrowser(query, timeoutMs) {
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(`${origin}/?${query}`)
    await page.waitForFunction(() => window.__bench?.done === true, null, { timeout: timeoutMs, polling: 50 })
    const bench = await page.evaluate(() => window.__bench)
    if (bench.error !== undefined) throw new Error(`page failed (${query}): ${bench.error}`)
    return bench.result
  } finally {
    await context.close()
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

try {
  console.log(`cold load from IndexedDB in Chromium (${CHROMIUM}), ${ops.toLocaleString('en')} operations, ${runs} runs per system`)
  const written = await inBrowser(`phase=write&ops=${ops}`, 600_000)
  console.log(
    `document: ${written.ops.toLocaleString('en')} updates (${(written.updateBytes / 1024).toFixed(0)} KiB as individual updates), ` +
      `final text ${written.textLength.toLocaleString('en')} chars; generated in ${written.generateMs} ms`
  )
  const m = written.meridian
  const p = written['meridian-pending']
  const y = written['y-indexeddb']
  console.log('stored as:')
  console.log(`  ${LABEL.meridian.padEnd(30)} snapshot ${(m.snapshotBytes / 1024).toFixed(0)} KiB + ${m.updateRecords} update records, ${m.pendingRecords} pending   (written in ${m.writeMs} ms)`)
  console.log(`  ${LABEL['meridian-pending'].padEnd(30)} snapshot ${(p.snapshotBytes / 1024).toFixed(0)} KiB + ${p.updateRecords} update records, ${p.pendingRecords.toLocaleString('en')} pending   (written in ${p.writeMs} ms)`)
  console.log(`  ${LABEL['y-indexeddb'].padEnd(30)} ${y.records} records, ${(y.bytes / 1024).toFixed(0)} KiB in all   (written in ${y.writeMs} ms)`)

  const times = Object.fromEntries(SYSTEMS.map((s) => [s, []]))
  const steps = { openMs: [], readMs: [], applyMs: [] }
  for (let run = 0; run < runs; run++) {
    // Rotate the order so no system always goes first after a write or another system.
    for (const system of [...SYSTEMS.slice(run % SYSTEMS.length), ...SYSTEMS.slice(0, run % SYSTEMS.length)]) {
      const result = await inBrowser(`phase=load&system=${system}`, 120_000)
      if (!result.ok) throw new Error(`${system}: the loaded document differs from the one written`)
      times[system].push(result.ms)
      if (system === 'meridian-store') for (const k of Object.keys(steps)) steps[k].push(result[k])
    }
  }
  console.log('cold load (new browser process → document in memory), ms:')
  console.log(`  ${'system'.padEnd(30)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`)
  for (const system of SYSTEMS) {
    const t = times[system]
    const detail =
      system === 'meridian-store'
        ? `   (median open ${median(steps.openMs).toFixed(0)} + read ${median(steps.readMs).toFixed(0)} + apply ${median(steps.applyMs).toFixed(0)})`
        : ''
    console.log(`  ${LABEL[system].padEnd(30)} ${median(t).toFixed(1).padStart(8)} ${Math.min(...t).toFixed(1).padStart(8)} ${Math.max(...t).toFixed(1).padStart(8)}${detail}`)
  }
  console.log(`"Meridian": new MeridianProvider(...) → whenLoaded; "its store alone": openIdbClientStore → load → apply (no provider).`)
} finally {
  server.close()
  await rm(work, { recursive: true, force: true })
}
