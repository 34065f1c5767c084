/**
 * The release check's rules, against deliberately broken fixtures: a tarball without LICENSE or README,
 * with tests or build info, or with sources; a manifest without its packaging fields; two packages that
 * pack to one file name. One fixture is a real package folder packed by npm (dry run), so the rules are
 * tested on what `npm pack` reports, not only on hand-written lists.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { duplicateTarballNames, manifestProblems, npmPack, tarballProblems, type PackageManifest } from './helpers/release-pack.js'

const files = (...paths: string[]): { path: string; size: number; mode: number }[] => paths.map((path) => ({ path, size: 1, mode: 0o644 }))
const GOOD = files('LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map')
const ENGINES = '^20.19.0 || ^22.12.0 || ^24.0.0'
const goodManifest: PackageManifest = {
  name: '@meridian/example',
  version: '0.1.0',
  license: 'MIT',
  repository: { type: 'git', url: 'git+https://example.com/meridian.git', directory: 'packages/example' },
  homepage: 'https://example.com/meridian',
  engines: { node: ENGINES },
  sideEffects: false,
  files: ['dist', '!dist/.tsbuildinfo'],
  publishConfig: { access: 'public' },
  dependencies: { yjs: '^13.6.33' }
}

describe('release check rules', () => {
  it('accept a tarball of dist, README, LICENSE and package.json', () => {
    expect(tarballProblems({ name: 'ok', files: GOOD })).toEqual([])
    expect(tarballProblems({ name: 'cli', files: [...GOOD, ...files('bin/meridian-relay.js')] })).toEqual([])
  })

  it('refuse a tarball without LICENSE, README or built code', () => {
    expect(tarballProblems({ name: 'p', files: files('README.md', 'dist/index.js') })).toEqual(['p: no LICENSE'])
    expect(tarballProblems({ name: 'p', files: files('LICENSE', 'dist/index.js') })).toEqual(['p: no README.md'])
    expect(tarballProblems({ name: 'p', files: files('LICENSE', 'README.md') })).toEqual(['p: no built code under dist/'])
  })

  it('refuse tests, fixtures, build info and sources', () => {
    const problems = tarballProblems({
      name: 'p',
      files: [...GOOD, ...files('dist/provider.test.js', 'dist/provider.test.d.ts', 'dist/x.spec.js.map', 'dist/test/helpers.js', 'dist/.tsbuildinfo', 'tsconfig.tsbuildinfo', 'src/index.ts', 'tsconfig.json')]
    })
    expect(problems).toEqual([
      'p: carries a test file: dist/provider.test.js',
      'p: carries a test file: dist/provider.test.d.ts',
      'p: carries a test file: dist/x.spec.js.map',
      'p: carries a test file: dist/test/helpers.js',
      'p: carries build info: dist/.tsbuildinfo',
      'p: carries build info: tsconfig.tsbuildinfo',
      'p: carries a file outside dist, README and LICENSE: src/index.ts',
      'p: carries a file outside dist, README and LICENSE: tsconfig.json'
    ])
  })

  it('refuse a manifest without its packaging fields', () => {
    const pkg = { dir: 'packages/example', manifest: goodManifest }
    expect(manifestProblems(pkg, ENGINES)).toEqual([])
    const broken: PackageManifest = { name: '@meridian/example', version: '0.1.0', files: ['dist', 'src', '*.md'], dependencies: { '@meridian/x': 'file:../x' } }
    expect(manifestProblems({ dir: 'packages/example', manifest: broken }, ENGINES)).toEqual([
      '@meridian/example (packages/example/package.json): license must be "MIT", is undefined',
      '@meridian/example (packages/example/package.json): repository must name the git URL and directory "packages/example"',
      '@meridian/example (packages/example/package.json): homepage must be an https URL',
      `@meridian/example (packages/example/package.json): engines.node must be "${ENGINES}" (what CI tests), is undefined`,
      '@meridian/example (packages/example/package.json): files must ship dist only (README and LICENSE come by themselves), has ["dist","src","*.md"]',
      '@meridian/example (packages/example/package.json): a scoped package needs publishConfig.access "public"',
      '@meridian/example (packages/example/package.json): sideEffects must be false',
      '@meridian/example (packages/example/package.json): dependency @meridian/x points into the repository (file:../x)'
    ])
    // A CLI (a bin) is not imported, so sideEffects is not asked of it.
    const { sideEffects: _unused, ...cli } = goodManifest
    expect(manifestProblems({ dir: 'packages/example', manifest: { ...cli, bin: { x: './bin/x.js' } } }, ENGINES)).toEqual([])
  })

  it('refuse two packages packing to the same file (what @meridian/relay and an unscoped meridian-relay did)', () => {
    expect(duplicateTarballNames([{ name: '@meridian/relay', filename: 'meridian-relay-0.1.0.tgz' }, { name: 'meridian-relay', filename: 'meridian-relay-0.1.0.tgz' }])).toEqual([
      '@meridian/relay and meridian-relay both pack to meridian-relay-0.1.0.tgz'
    ])
    expect(duplicateTarballNames([{ name: '@meridian/relay', filename: 'meridian-relay-0.1.0.tgz' }, { name: '@meridian/cli', filename: 'meridian-cli-0.1.0.tgz' }])).toEqual([])
  })

  describe('on a broken package folder packed by npm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-broken-pkg-'))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('finds the missing LICENSE, the test file and the build info', async () => {
      mkdirSync(join(dir, 'broken/dist'), { recursive: true })
      writeFileSync(join(dir, 'broken/package.json'), JSON.stringify({ name: '@meridian/broken', version: '0.0.1', files: ['dist'] }))
      writeFileSync(join(dir, 'broken/README.md'), '# broken\n')
      writeFileSync(join(dir, 'broken/dist/index.js'), 'export {}\n')
      writeFileSync(join(dir, 'broken/dist/index.test.js'), 'export {}\n')
      writeFileSync(join(dir, 'broken/dist/.tsbuildinfo'), '{}\n')
      const [tarball] = await npmPack(dir, ['broken'])
      expect(tarball?.name).toBe('@meridian/broken')
      expect(tarballProblems(tarball ?? { name: '?', files: [] })).toEqual([
        '@meridian/broken: no LICENSE',
        '@meridian/broken: carries build info: dist/.tsbuildinfo',
        '@meridian/broken: carries a test file: dist/index.test.js'
      ])
    }, 60_000)
  })
})
