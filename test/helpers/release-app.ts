/**
 * A fresh app outside the repository for the release check: its own package.json, the packed tarballs and
 * their dependencies from the registry (no workspace links), and the commands a user runs in it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** The environment of a user's shell: without the npm_* variables `npm test` sets for its scripts. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) && key !== 'INIT_CWD' && key !== 'VITEST' && !key.startsWith('VITEST_')) env[key] = value
  return { ...env, ...extra }
}

/** Runs a command in the app (shell words as given), resolving with its output; a failure rejects with it. */
export async function run(cwd: string, file: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(file, args, { cwd, env: userEnv(options.env), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

/** Registry reachability, so the check can skip (with its reason) instead of failing on a machine offline. */
export async function registryReachable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await run(process.cwd(), 'npm', ['ping'], { timeoutMs: 20_000 })
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `the npm registry is unreachable (npm ping: ${(err as Error).message.split('\n')[0]})` }
  }
}

/** Bytes under a folder (file sizes, not blocks), for the install size the release check reports. */
export function folderBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += folderBytes(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

/** Every installed package's manifest in an app (nested node_modules included). */
export function installedManifests(app: string): { path: string; name: string; version: string; engines?: { node?: string } }[] {
  const found: { path: string; name: string; version: string; engines?: { node?: string } }[] = []
  const walk = (modules: string): void => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const dirs = entry.name.startsWith('@') ? readdirSync(join(modules, entry.name)).map((n) => join(modules, entry.name, n)) : [join(modules, entry.name)]
      for (const dir of dirs) {
        const manifest = join(dir, 'package.json')
        if (!existsSync(manifest)) continue
        const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; version: string; engines?: { node?: string } }
        found.push({ path: dir, name: pkg.name, version: pkg.version, ...(pkg.engines !== undefined ? { engines: pkg.engines } : {}) })
        walk(join(dir, 'node_modules'))
      }
    }
  }
  walk(join(app, 'node_modules'))
  return found
}

/**
 * better-sqlite3 is a native addon. The app is installed with --ignore-scripts (its install script would
 * try to download a prebuilt binary from GitHub, then compile SQLite for a minute or more); the addon the
 * repository built for the running Node is copied in when the versions match, else it is compiled here
 * from the package's own sources (node-gyp, headers from the local Node installation).
 */
export async function provideSqliteAddon(repoRoot: string, app: string): Promise<'copied' | 'compiled'> {
  const repoPkg = join(repoRoot, 'node_modules/better-sqlite3')
  const appPkg = join(app, 'node_modules/better-sqlite3')
  if (!existsSync(appPkg)) throw new Error('better-sqlite3 was not installed in the app')
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
  const addon = 'build/Release/better_sqlite3.node'
  if (existsSync(join(repoPkg, addon)) && version(repoPkg) === version(appPkg)) {
    mkdirSync(join(appPkg, 'build/Release'), { recursive: true })
    copyFileSync(join(repoPkg, addon), join(appPkg, addon))
    return 'copied'
  }
  await run(app, 'npm', ['rebuild', 'better-sqlite3', '--build-from-source', '--foreground-scripts'], { timeoutMs: 600_000 })
  return 'compiled'
}

/** The demo's bundler (Vite, as apps/demo resolves it): `node <vite bin>`. */
export function viteBin(repoRoot: string): string {
  const pkgPath = createRequire(join(repoRoot, 'apps/demo/package.json')).resolve('vite/package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> | string }
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.vite
  if (bin === undefined) throw new Error('vite has no bin')
  return join(pkgPath, '..', bin)
}

export interface StartedProcess {
  child: ChildProcess
  output: () => string
  /** SIGTERM to the process group (npx, its shell, the relay); SIGKILL after `timeoutMs`. Resolves with the exit code. */
  stop: (timeoutMs?: number) => Promise<number | null>
}

/**
 * Starts a long-running command (e.g. `npx meridian-relay ...`) in its own process group and resolves once
 * its output matches `ready`; rejects with the output when it exits first or `timeoutMs` passes.
 */
export function startUntil(cwd: string, file: string, args: string[], ready: RegExp, options: { env?: Record<string, string>; timeoutMs?: number; shell?: boolean } = {}): Promise<StartedProcess & { match: RegExpExecArray }> {
  const child = spawn(file, args, { cwd, env: userEnv(options.env), detached: true, stdio: ['ignore', 'pipe', 'pipe'], shell: options.shell ?? false })
  let out = ''
  let closed = false
  child.on('close', () => (closed = true))
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d))
  // 'close': the command and everything holding its output (the relay under npx and sh) have exited.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const stop = async (timeoutMs = 15_000): Promise<number | null> => {
    if (closed) return child.exitCode
    const group = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // The group is gone already.
      }
    }
    group('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))])
    clearTimeout(timer)
    if (code !== 'timeout') return code
    group('SIGKILL')
    return exited
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdout?.off('data', onData)
      void stop(2_000).then(() => reject(new Error(`${file} ${args.join(' ')}: not ready after ${options.timeoutMs ?? 60_000} ms:\n${out}`)))
    }, options.timeoutMs ?? 60_000)
    const onData = (): void => {
      const match = ready.exec(out)
      if (match === null) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      resolve({ child, output: () => out, stop, match })
    }
    child.stdout?.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${file} ${args.join(' ')} exited (${code}) before it was ready:\n${out}`))
    })
  })
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}
