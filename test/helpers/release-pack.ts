/**
 * The release check's building blocks: which workspaces are published, the rules every tarball and
 * package.json must follow, and `npm pack`. Pure rules (`tarballProblems`, `manifestProblems`) are unit
 * tested against broken fixtures in test/release-check-rules.test.ts; test/release-check.test.ts packs and
 * installs the real packages.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export interface WorkspacePackage {
  /** Folder relative to the repository root, e.g. `packages/client`. */
  dir: string
  manifest: PackageManifest
}

export interface PackageManifest {
  name: string
  version: string
  private?: boolean
  license?: string
  repository?: { type?: string; url?: string; directory?: string } | string
  homepage?: string
  engines?: { node?: string }
  files?: string[]
  sideEffects?: boolean | string[]
  publishConfig?: { access?: string }
  bin?: string | Record<string, string>
  dependencies?: Record<string, string>
}

/** One tarball as `npm pack --json` describes it. */
export interface PackedTarball {
  name: string
  version: string
  filename: string
  size: number
  unpackedSize: number
  files: { path: string; size: number; mode: number }[]
}

/**
 * Every workspace the root package.json names (`packages/*`, `apps/*`) that is not private: iterating the
 * workspaces, not a list, so a package added later is checked without editing this file.
 */
export function publishedWorkspaces(root: string): WorkspacePackage[] {
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] }
  const dirs: string[] = []
  for (const pattern of rootManifest.workspaces ?? []) {
    // The repository's workspace globs are `<folder>/*`; anything else would need a glob library.
    if (!pattern.endsWith('/*') || pattern.slice(0, -2).includes('*')) throw new Error(`unsupported workspace pattern "${pattern}"`)
    const parent = pattern.slice(0, -2)
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      if (entry.isDirectory() && existsSync(join(root, parent, entry.name, 'package.json'))) dirs.push(`${parent}/${entry.name}`)
    }
  }
  return dirs
    .sort()
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as PackageManifest }))
    .filter((p) => p.manifest.private !== true)
}

/** Files a tarball may carry besides its manifest: built code, README, LICENSE (and the CLI's bin shim). */
const ALLOWED_TOP_LEVEL = /^(dist\/|bin\/|README\.md$|LICENSE$|package\.json$)/
const TEST_FILE = /(^|\/)(__tests__|__fixtures__|tests?|fixtures?)\/|\.(test|spec)\.[cm]?[jt]sx?(\.map)?$|\.(test|spec)\.d\.[cm]?ts(\.map)?$/
const BUILD_INFO = /\.tsbuildinfo$/

/** What is wrong with one tarball's file list; empty when it may be published. */
export function tarballProblems(tarball: Pick<PackedTarball, 'name' | 'files'>): string[] {
  const paths = tarball.files.map((f) => f.path)
  const problems: string[] = []
  if (!paths.includes('LICENSE')) problems.push(`${tarball.name}: no LICENSE`)
  if (!paths.includes('README.md')) problems.push(`${tarball.name}: no README.md`)
  if (!paths.some((p) => p.startsWith('dist/') && p.endsWith('.js'))) problems.push(`${tarball.name}: no built code under dist/`)
  for (const path of paths) {
    if (TEST_FILE.test(path)) problems.push(`${tarball.name}: carries a test file: ${path}`)
    else if (BUILD_INFO.test(path)) problems.push(`${tarball.name}: carries build info: ${path}`)
    else if (!ALLOWED_TOP_LEVEL.test(path)) problems.push(`${tarball.name}: carries a file outside dist, README and LICENSE: ${path}`)
  }
  return problems
}

/** What is wrong with a published package's manifest (the packaging fields users and registries read). */
export function manifestProblems(pkg: WorkspacePackage, expectedEngines: string): string[] {
  const m = pkg.manifest
  const problems: string[] = []
  const say = (what: string): void => {
    problems.push(`${m.name} (${pkg.dir}/package.json): ${what}`)
  }
  if (m.license !== 'MIT') say(`license must be "MIT", is ${JSON.stringify(m.license)}`)
  if (typeof m.repository !== 'object' || m.repository.url === undefined || m.repository.directory !== pkg.dir) say(`repository must name the git URL and directory "${pkg.dir}"`)
  if (typeof m.homepage !== 'string' || !m.homepage.startsWith('https://')) say('homepage must be an https URL')
  if (m.engines?.node !== expectedEngines) say(`engines.node must be "${expectedEngines}" (what CI tests), is ${JSON.stringify(m.engines?.node)}`)
  if (!Array.isArray(m.files) || !m.files.includes('dist')) say('files must list dist')
  else if (m.files.some((f) => f === 'src' || f.startsWith('src/') || f.includes('*.md'))) say(`files must ship dist only (README and LICENSE come by themselves), has ${JSON.stringify(m.files)}`)
  if (m.name.startsWith('@') && m.publishConfig?.access !== 'public') say('a scoped package needs publishConfig.access "public"')
  // Libraries are side-effect free (bundlers may drop unused modules); a CLI is not imported.
  if (m.bin === undefined && m.sideEffects !== false) say('sideEffects must be false')
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    if (range.startsWith('file:') || range.startsWith('workspace:') || range.startsWith('link:')) say(`dependency ${dep} points into the repository (${range})`)
  }
  return problems
}

/** Tarball names must differ, or one package's tarball overwrites another's in the same folder. */
export function duplicateTarballNames(tarballs: Pick<PackedTarball, 'name' | 'filename'>[]): string[] {
  const byFile = new Map<string, string[]>()
  for (const t of tarballs) byFile.set(t.filename, [...(byFile.get(t.filename) ?? []), t.name])
  return [...byFile].filter(([, names]) => names.length > 1).map(([file, names]) => `${names.join(' and ')} both pack to ${file}`)
}

/**
 * `npm pack` of the given folders in one npm run. With `destination` the tarballs are written there;
 * without it this is a dry run that only lists what they would hold.
 */
export async function npmPack(cwd: string, dirs: string[], destination?: string): Promise<PackedTarball[]> {
  const args = ['pack', '--json', '--ignore-scripts', ...(destination === undefined ? ['--dry-run'] : ['--pack-destination', destination]), ...dirs.map((d) => `./${d}`)]
  const { stdout } = await execFileAsync('npm', args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'error' } })
  return JSON.parse(stdout) as PackedTarball[]
}
