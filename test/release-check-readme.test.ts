/**
 * Every relay command the README shows runs as written. Commands meant for this machine (`npx …`,
 * `node -e …` in "Running a relay" and "Operating a relay") are run through npx from a scratch folder in
 * the repository, in README order: the relay starts, answers, and drains on SIGTERM. The "In your app"
 * section is run in a fresh app by release-check.test.ts; the "Version history" command-line block runs
 * after the "Documents from your backend" commands, against the relay that section starts. Deployment examples for other hosts (bare
 * `meridian-relay …` lines naming remote databases, deploy/compose.yaml, deploy/meridian-relay.service)
 * cannot run here: their flags go through the CLI's own parser, with their secret files stood in by a
 * temporary one.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { parseCli } from '../apps/relay/src/cli-options.js'
import { mintTokenCommand } from '../apps/relay/src/mint-token.js'
import { parseDocsArgs } from '../apps/relay/src/docs-cli.js'
import { readmeSection, shellBlocks, shellLines, shellWords } from './helpers/readme-commands.js'
import { run, startUntil } from './helpers/release-app.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const scratchRoot = join(ROOT, 'test-results')
mkdirSync(scratchRoot, { recursive: true })
// Inside the repository (gitignored), so npx finds the workspace's meridian-relay as a user's shell would.
const scratch = mkdtempSync(join(scratchRoot, 'readme-commands-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const DOCS_SECTION = 'Documents from your backend'
const HISTORY_SECTION = 'Version history'

const isRelayCommand = (line: string): boolean => /^(npx )?meridian-relay( |$)|^npx @meridian\/cli( |$)/.test(line)

/** The README's sections other than "In your app", "Documents from your backend" and "Version history" (run by their own tests), as text. */
function readmeOutsideApp(): string {
  const app = readmeSection(readme, 'In your app').text
  const docs = readmeSection(readme, DOCS_SECTION).text
  const history = readmeSection(readme, HISTORY_SECTION).text
  return readme.replace(app, '\n').replace(docs, '\n').replace(history, '\n')
}

describe('README commands', () => {
  const local = shellBlocks(readmeOutsideApp()).flatMap(shellLines).filter((l) => l.startsWith('npx ') || l.startsWith('node -e '))

  it('shows relay commands to run here: a secret, a relay, mint-token, --help', () => {
    expect(local.some((l) => l.startsWith('node -e ') && l.includes('> jwt.secret'))).toBe(true)
    expect(local.some((l) => /^npx meridian-relay --auth jwt /.test(l))).toBe(true)
    expect(local.some((l) => l.startsWith('npx meridian-relay mint-token '))).toBe(true)
  })

  it('runs every npx command of the README as written (a relay on port 0 instead of its fixed port)', async () => {
    for (const line of local) {
      if (/^npx meridian-relay (?!mint-token)(?!--help)/.test(line)) {
        // A fixed port would collide with `npm start` or a parallel CI run; everything else is as written.
        const command = line.replace(/--port \d+/, '--port 0')
        const relay = await startUntil(scratch, 'sh', ['-c', command], /listening on (ws:\/\/\S+)/, { timeoutMs: 60_000 })
        const url = (relay.match[1] ?? '').replace(/^ws/, 'http')
        try {
          expect((await fetch(`${url}/readyz`)).status).toBe(200)
        } finally {
          const code = await relay.stop(20_000)
          // The wrapper (sh, npx) may end by the signal itself (null); the relay drained once and closed the pipe.
          expect(relay.output()).toContain('shutting down')
          expect(relay.output()).not.toMatch(/second signal|shutdown failed/)
          expect([0, 143, null]).toContain(code)
        }
      } else {
        const { stdout } = await run(scratch, 'sh', ['-c', line], { timeoutMs: 60_000 })
        if (line.includes('mint-token')) expect(stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
        if (line.includes('--help')) expect(stdout).toContain('Usage: meridian-relay')
      }
    }
  }, 180_000)

  it('every deployment example parses with the CLI (README, deploy/compose.yaml, deploy/meridian-relay.service)', async () => {
    const secretFile = join(scratch, 'deploy-jwt.secret')
    writeFileSync(secretFile, 'x'.repeat(64))
    const vars: Record<string, string> = { SECRET: 'a-cluster-secret-of-32-characters', MERIDIAN_CLUSTER_SECRET: 'a-cluster-secret-of-32-characters', POSTGRES_PASSWORD: 'pw' }
    const standIn = (words: string[]): string[] => words.map((w) => (w.startsWith('/etc/meridian/') || w === '/run/secrets/jwt' || w === 'jwt.secret' ? secretFile : w))
    const checked: string[] = []
    const check = async (argv: string[], env: Record<string, string>, where: string): Promise<void> => {
      const args = standIn(argv)
      const standInEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('/etc/meridian/') ? secretFile : v]))
      if (args[0] === 'mint-token') {
        const errors: string[] = []
        expect(await mintTokenCommand(args.slice(1), standInEnv, () => undefined, (s) => errors.push(s)), `${where}: ${errors.join('')}`).toBe(0)
      } else {
        expect(() => parseCli(args, standInEnv), where).not.toThrow()
      }
      checked.push(where)
    }

    for (const block of shellBlocks(readmeOutsideApp())) {
      const env: Record<string, string> = {}
      for (const line of shellLines(block)) {
        const words = shellWords(line, { ...vars, ...env })
        if (words[0] === 'export') {
          for (const assignment of words.slice(1)) {
            const at = assignment.indexOf('=')
            env[assignment.slice(0, at)] = assignment.slice(at + 1)
          }
        } else if (isRelayCommand(line)) {
          await check(words.slice(words[0] === 'npx' ? 2 : 1), env, `README: ${line}`)
        }
      }
    }

    const compose = readFileSync(join(ROOT, 'deploy/compose.yaml'), 'utf8')
    const expand = (text: string): string => text.replace(/\$\{(\w+)(:\?[^}]*)?\}/g, (_, name: string) => vars[name] ?? '')
    const commands = [...compose.matchAll(/^\s+command: (\[.*\])$/gm)].map((m) => JSON.parse(expand(m[1] ?? '[]')) as string[]).filter((c) => c[0] === '--auth')
    expect(commands).toHaveLength(4)
    for (const argv of commands) await check(argv, {}, `compose: ${argv.join(' ')}`)

    const unit = readFileSync(join(ROOT, 'deploy/meridian-relay.service'), 'utf8').replace(/\\\n\s*/g, '')
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? ''
    const words = shellWords(execStart)
    expect(words.slice(0, 3)).toEqual(['/usr/bin/node', '--max-semi-space-size=2', '/opt/meridian/node_modules/@meridian/cli/dist/main.js'])
    await check(words.slice(3), {}, `systemd: ${execStart}`)

    expect(checked.filter((c) => c.startsWith('README')).length).toBeGreaterThanOrEqual(7)
  })
  it('runs the "Documents from your backend" commands as written, against the relay the section starts', async () => {
    const blocks = shellBlocks(readmeSection(readme, DOCS_SECTION).text).map(shellLines)
    const [setup = [], ...rest] = blocks
    const start = setup.find((l) => l.startsWith('npx meridian-relay '))
    expect(start).toBeDefined()
    for (const line of setup) if (line !== start) await run(scratch, 'sh', ['-c', line], { timeoutMs: 60_000 })
    // Port 0 instead of the fixed one (as above); the later commands get the address it took.
    const fixed = /--port (\d+)/.exec(start ?? '')?.[1] ?? ''
    const relay = await startUntil(scratch, 'sh', ['-c', (start ?? '').replace(/--port \d+/, '--port 0')], /listening on (ws:\/\/\S+)/, { timeoutMs: 60_000 })
    try {
      const url = (relay.match[1] ?? '').replace(/^ws/, 'http')
      // The "Version history" command-line block follows (it names notes/welcome, which the block above created).
      const versions = shellBlocks(readmeSection(readme, HISTORY_SECTION).text).map(shellLines).filter((b) => b.some((l) => l.includes('meridian-relay docs versions ')))
      expect(versions).toHaveLength(1)
      const lines = [...rest.flat(), ...versions.flat()]
      // Bare `meridian-relay` lines name hosts that are not here (a remote PostgreSQL): their flags are parsed only.
      for (const line of lines.filter((l) => l.startsWith('meridian-relay '))) expect(() => parseDocsArgs(shellWords(line).slice(2)), line).not.toThrow()
      // One shell for the rest, in order, as a user pastes them into one terminal (the `export` carries over).
      const script = ['set -e', ...lines.filter((l) => !l.startsWith('meridian-relay ')).map((l) => l.replaceAll(`http://127.0.0.1:${fixed}`, url))].join('\n')
      const { stdout, stderr } = await run(scratch, 'sh', ['-c', script], { timeoutMs: 120_000 })
      expect(stdout).toContain('"content":"Hello from the backend"')
      expect(stdout).toContain('"content": "> Hello from the backend"')
      expect(stdout).toMatch(/"durability":"relay"/)
      expect(stderr).toMatch(/imported \d+ documents/)
      expect(stderr).toMatch(/version \S+ taken: relay/)
      expect(stdout).toMatch(/"restored":"[^"]+","preRestore":\{[^}]*"kind":"pre-restore"/)
    } finally {
      await relay.stop(20_000)
    }
  }, 240_000)
})
