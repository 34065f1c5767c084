/**
 * The release check: what keeps "an app can adopt it" true. Every published workspace is built and packed
 * with `npm pack`; the tarballs are installed into a fresh app outside the repository (its own
 * package.json, dependencies from the registry, no workspace links); then the README's "In your app"
 * commands run there through npx — a relay with JWT auth and a minted token —, two MeridianProviders in
 * Node sync through that relay to durability `relay`, the README's client snippet is bundled for the
 * browser with the demo's bundler (Vite) and must contain no Node built-in, and every tarball carries
 * LICENSE and README and no test or build-info file. It skips, saying why, when the registry is
 * unreachable. The tarball rules themselves are tested against broken fixtures in
 * release-check-rules.test.ts.
 */
import { execFile } from 'node:child_process'
import { builtinModules, createRequire } from 'node:module'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { duplicateTarballNames, manifestProblems, npmPack, publishedWorkspaces, tarballProblems, type PackedTarball } from './helpers/release-pack.js'
import { folderBytes, installedManifests, provideSqliteAddon, registryReachable, run, startUntil, viteBin, writeJson, type StartedProcess } from './helpers/release-app.js'
import { readmeSection, shellLines } from './helpers/readme-commands.js'

const execFileAsync = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
const ENGINES = rootManifest.engines.node
const semver = createRequire(import.meta.url)('semver') as { subset: (sub: string, dom: string) => boolean; validRange: (r: string) => string | null }

const workspaces = publishedWorkspaces(ROOT)
const registry = await registryReachable()
if (!registry.ok) console.warn(`release check: installing into a fresh app skipped: ${registry.reason}`)

let work = ''
let packed: PackedTarball[] = []

beforeAll(async () => {
  // The tarballs ship dist/: build every published workspace first (incremental; quick when nothing changed).
  const built = workspaces.filter((w) => existsSync(join(ROOT, w.dir, 'tsconfig.json'))).map((w) => w.dir)
  await execFileAsync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', ...built], { cwd: ROOT }).catch((err: { stdout?: string }) => {
    throw new Error(`building the packages failed:\n${err.stdout ?? ''}`)
  })
  work = mkdtempSync(join(tmpdir(), 'meridian-release-'))
  mkdirSync(join(work, 'tarballs'))
  packed = await npmPack(ROOT, workspaces.map((w) => w.dir), join(work, 'tarballs'))
}, 300_000)

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true })
})

describe('release check: the tarballs', () => {
  it('every published workspace packs, to a file name of its own', () => {
    expect(packed.map((t) => t.name).sort()).toEqual(workspaces.map((w) => w.manifest.name).sort())
    expect(duplicateTarballNames(packed)).toEqual([])
  })

  it('every tarball has LICENSE and README, built code, and no test or build-info file', () => {
    expect(packed.flatMap((t) => tarballProblems(t))).toEqual([])
  })

  it('every package.json has the packaging fields (license, repository, engines, files, publishConfig, sideEffects)', () => {
    expect(workspaces.flatMap((w) => manifestProblems(w, ENGINES))).toEqual([])
  })

  it('the relay command is the bin of @meridian/cli, executable in the tarball', () => {
    const cli = packed.find((t) => t.name === '@meridian/cli')
    const bin = cli?.files.find((f) => f.path === 'bin/meridian-relay.js')
    expect(bin).toBeDefined()
    expect((bin?.mode ?? 0) & 0o111).toBe(0o111)
  })
})

describe.skipIf(!registry.ok)('release check: a fresh app outside the repository', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readmeSection(readme, 'In your app')
  const commands = shellLines(section.sh)
  let app = ''
  let relay: (StartedProcess & { match: RegExpExecArray }) | undefined
  let relayUrl = ''
  let token = ''
  const figures: Record<string, string> = {}

  beforeAll(async () => {
    app = join(work, 'app')
    expect(relative(ROOT, app).startsWith('..')).toBe(true) // outside the repository: no workspace to fall back on
    mkdirSync(app)
    writeJson(join(app, 'package.json'), { name: 'meridian-release-check-app', version: '1.0.0', private: true, type: 'module' })
    // The README's `npm install` lines, with our packages as the packed tarballs (all of them, so each is
    // installed from its tarball and none from a registry); `ws` for Node 20's missing WebSocket.
    const named = commands.filter((c) => c.startsWith('npm install ')).flatMap((c) => c.split(/\s+/).slice(2).filter((w) => !w.startsWith('-')))
    const ours = new Set(packed.map((t) => t.name))
    const fromRegistry = named.filter((n) => !ours.has(n))
    expect(named.filter((n) => n.startsWith('@meridian/')).every((n) => ours.has(n))).toBe(true)
    const started = performance.now()
    const install = await run(app, 'npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...packed.map((t) => join(work, 'tarballs', t.filename)), ...fromRegistry, 'ws'], { timeoutMs: 240_000 })
    figures.installSeconds = ((performance.now() - started) / 1000).toFixed(1)
    figures.installMB = (folderBytes(join(app, 'node_modules')) / 1e6).toFixed(1)
    figures.packages = String(installedManifests(app).length)
    figures.installOutput = `${install.stdout}${install.stderr}`
    figures.sqliteAddon = await provideSqliteAddon(ROOT, app)
  }, 600_000)

  afterAll(async () => {
    await relay?.stop()
    console.log(
      `release check: fresh app install ${figures.installSeconds ?? '?'} s, node_modules ${figures.installMB ?? '?'} MB (${figures.packages ?? '?'} packages, better-sqlite3 addon ${figures.sqliteAddon ?? '?'}); ` +
        `browser bundle of the README's client snippet ${figures.bundleKB ?? '?'} KB, ${figures.bundleGzipKB ?? '?'} KB gzipped`
    )
  })

  it('a fresh install has no engine warning, on every Node line we support', () => {
    expect(figures.installOutput).not.toMatch(/EBADENGINE|Unsupported engine/)
    // npm warns only for the running Node; the engines ranges say it for 20, 22 and 24 at once.
    const lines = ENGINES.split('||').map((r) => r.trim())
    const bad = installedManifests(app).flatMap((m) => {
      const range = m.engines?.node
      if (range === undefined || semver.validRange(range) === null) return []
      return lines.filter((line) => !semver.subset(line, range)).map((line) => `${m.name}@${m.version} needs node ${range}, we support ${line}`)
    })
    expect(bad).toEqual([])
  })

  it("runs the README's commands: a secret, a relay started with npx, a minted token", async () => {
    for (const command of commands.filter((c) => !c.startsWith('npm install '))) {
      if (/^npx meridian-relay (?!mint-token)/.test(command)) {
        // The relay keeps running; it binds the port the environment gives (flags win, and the README's line has none).
        relay = await startUntil(app, 'sh', ['-c', command], /listening on (ws:\/\/\S+)/, { env: { MERIDIAN_PORT: '0', MERIDIAN_DATA_DIR: join(app, 'data') } })
        relayUrl = relay.match[1] ?? ''
      } else if (command.startsWith('npx meridian-relay mint-token')) {
        token = (await run(app, 'sh', ['-c', command])).stdout.trim()
      } else {
        await run(app, 'sh', ['-c', command])
      }
    }
    expect(relayUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    // JSON lines on a pipe (stdout is not a terminal).
    const first = relay?.output().split('\n').find((l) => l.includes('listening on'))
    expect(() => JSON.parse(first ?? '')).not.toThrow()
    const help = await run(app, 'npx', ['meridian-relay', '--help'])
    expect(help.stdout).toContain('Usage: meridian-relay')
    // The package's own name runs the same command (its only bin).
    expect((await run(app, 'npx', ['@meridian/cli', '--help'])).stdout).toContain('Usage: meridian-relay')
  }, 120_000)

  it('two MeridianProviders in Node sync through that relay to durability `relay`', async () => {
    expect(relayUrl).not.toBe('')
    writeFileSync(join(app, 'sync-check.mjs'), SYNC_SCRIPT)
    const { stdout } = await run(app, process.execPath, ['sync-check.mjs', relayUrl, token], { timeoutMs: 60_000 })
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
    expect(result).toEqual({ a: 'hello from a; and from b', b: 'hello from a; and from b', durabilityA: 'relay', durabilityB: 'relay' })
  }, 90_000)

  it("the README's client snippet bundles for the browser with Vite, without Node built-ins", async () => {
    const web = join(app, 'web')
    mkdirSync(web)
    // The README's snippet as a page's module, with the relay and token of this run.
    writeFileSync(join(web, 'main.js'), section.js.replace("'PASTE-THE-TOKEN'", JSON.stringify(token)).replace('ws://127.0.0.1:4321', relayUrl))
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>release check</title><script type="module" src="./main.js"></script>\n')
    const { stdout, stderr } = await run(app, process.execPath, [viteBin(ROOT), 'build', web, '--outDir', join(web, 'dist'), '--emptyOutDir', '--logLevel', 'warn'], { timeoutMs: 120_000 })
    expect(`${stdout}${stderr}`).not.toMatch(/externalized for browser compatibility/)
    const assets = join(web, 'dist/assets')
    const js = readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(assets, f), 'utf8')).join('\n')
    expect(js).toContain('whenDurable')
    expect(js).not.toContain('__vite-browser-external')
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))
    const imported = [...js.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1] ?? '')
    expect(imported.filter((s) => builtins.has(s))).toEqual([])
    figures.bundleKB = (Buffer.byteLength(js) / 1024).toFixed(1)
    figures.bundleGzipKB = (gzipSync(js, { level: 9 }).length / 1024).toFixed(1)
  }, 150_000)

  it('the relay drains and exits 0 on SIGTERM', async () => {
    expect(relay).toBeDefined()
    const code = await relay?.stop(20_000)
    // The wrapper (sh, npx) may end by the signal itself (null); the relay drained once and closed the pipe.
    expect(relay?.output()).toContain('shutting down')
    expect(relay?.output()).not.toMatch(/second signal|shutdown failed/)
    expect([0, 143, null]).toContain(code)
    relay = undefined
  }, 30_000)
})

/** Run in the fresh app with plain node: it imports the installed packages, nothing from the repository. */
const SYNC_SCRIPT = `import * as Y from 'yjs'
import WebSocket from 'ws'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'

const [url, token] = process.argv.slice(2)
const timeoutMs = 20000
const open = () => {
  const doc = new Y.Doc()
  const provider = new MeridianProvider({ doc, docName: 'notes/release-check', urls: [url], params: { token }, store: new MemoryClientStore(), WebSocket })
  provider.on('error', (err) => console.error('provider error', err.code, err.message))
  return { doc, provider, text: doc.getText('body') }
}
const until = (doc, ok) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => { doc.off('update', check); reject(new Error('timed out')) }, timeoutMs)
  function check() { if (ok()) { clearTimeout(timer); doc.off('update', check); resolve() } }
  doc.on('update', check)
  check()
})
const a = open()
const b = open()
await Promise.all([a.provider.whenSynced({ timeoutMs }), b.provider.whenSynced({ timeoutMs })])
a.text.insert(0, 'hello from a')
await a.provider.whenDurable('all', 'relay', { timeoutMs })
await until(b.doc, () => b.text.toString() === 'hello from a')
b.text.insert(b.text.length, '; and from b')
await b.provider.whenDurable('all', 'relay', { timeoutMs })
await until(a.doc, () => a.text.toString() === 'hello from a; and from b')
console.log(JSON.stringify({ a: a.text.toString(), b: b.text.toString(), durabilityA: a.provider.durabilityOf('all'), durabilityB: b.provider.durabilityOf('all') }))
await a.provider.destroy()
await b.provider.destroy()
`
