import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { docsCommand, type DocsCliIo } from './docs-cli.js'

const ADMIN = 'versions-cli-admin-token-0123'
const env = { MERIDIAN_ADMIN_TOKEN: ADMIN }
const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

function io(fetchFn: typeof fetch = fetch): DocsCliIo & { stdout: string[]; stderr: string[]; bytes: Uint8Array[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  const bytes: Uint8Array[] = []
  return {
    fetch: fetchFn,
    out: (s) => stdout.push(s),
    outBytes: (b) => bytes.push(b),
    err: (s) => stderr.push(s),
    openStorage: async () => new MemoryStorageAdapter(),
    stdout,
    stderr,
    bytes
  }
}

async function run(argv: string[], fetchFn?: typeof fetch): Promise<ReturnType<typeof io> & { code: number }> {
  const x = io(fetchFn)
  const code = await docsCommand(['versions', ...argv], env, x)
  return Object.assign(x, { code })
}

const put = async (url: string, name: string, edit: (d: Y.Doc) => void, method = 'POST'): Promise<void> => {
  const d = new Y.Doc()
  edit(d)
  const path = method === 'PUT' ? `/v1/docs/${encodeURIComponent(name)}` : `/v1/docs/${encodeURIComponent(name)}/updates`
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` }, body: new Uint8Array(Y.encodeStateAsUpdate(d)) })
  expect(res.ok).toBe(true)
}

describe('meridian-relay docs versions', () => {
  it('create, ls, get (bytes and --json), diff and restore against a running relay', async () => {
    const relay = await buildRelay({ storage: new MemoryStorageAdapter(), adminToken: ADMIN, history: { autoVersions: false } })
    relays.push(relay)
    const url = (await relay.listen({ port: 0, host: '127.0.0.1' })).replace(/^ws/, 'http')
    await put(url, 'team/plan', (d) => d.getText('content').insert(0, 'first draft'), 'PUT')

    const created = await run(['create', 'team/plan', '--label', 'draft', '--url', url])
    expect(created.code).toBe(0)
    const id = created.stdout.join('').trim()
    expect(id).toMatch(/^\S+$/)
    expect(created.stderr.join('')).toContain(`version ${id} taken: relay`)
    const waited = await run(['create', 'team/plan', '--url', url, '--json', '--wait-for', 'replicated:1', '--timeout-ms', '0'])
    expect(JSON.parse(waited.stdout.join(''))).toMatchObject({ durability: 'relay', waitFor: { replicated: 1, satisfied: false } })
    expect(waited.stderr.join('')).toContain('replicated(1) was not reached in time')

    const ls = await run(['ls', 'team/plan', '--url', url])
    const rows = ls.stdout.join('').split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'))
    expect(rows.map((r) => [r[0], r[1], r[4]])).toEqual([[id, 'named', 'draft'], [expect.any(String), 'named', '']])

    await put(url, 'team/plan', (d) => d.getText('content').insert(0, 'later '))
    const json = await run(['get', 'team/plan', id, '--url', url, '--json'])
    expect(JSON.parse(json.stdout.join(''))).toEqual({ content: 'first draft' })
    const bytes = await run(['get', 'team/plan', id, '--url', url])
    const opened = new Y.Doc()
    Y.applyUpdate(opened, bytes.bytes[0] as Uint8Array)
    expect(opened.getText('content').toString()).toBe('first draft')
    const diff = JSON.parse((await run(['diff', 'team/plan', id, '--url', url])).stdout.join('')) as { from: string; to: string }
    expect(diff).toMatchObject({ from: id, to: 'now' })
    expect(JSON.stringify(diff)).toContain('later ')

    const restored = await run(['restore', 'team/plan', id, '--url', url])
    expect(restored.code).toBe(0)
    expect(JSON.parse(restored.stdout.join(''))).toMatchObject({ restored: id, preRestore: { kind: 'pre-restore' }, durability: 'relay' })
    const unknown = await run(['get', 'team/plan', 'no-such-version', '--url', url, '--json'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.join('')).toContain('404')
    expect(unknown.stderr.join('')).toContain('ERR_VERSION_NOT_FOUND')
    const now = (await (await fetch(`${url}/v1/docs/team%2Fplan/json`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { data: unknown }
    expect(now.data).toEqual({ content: 'first draft' })
  })

  it('sends what the relay API expects (injected fetch): JSON label, waitFor and timeoutMs, the bearer token', async () => {
    const calls: { url: string; init: RequestInit }[] = []
    const fake: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), init: init ?? {} })
      return new Response(JSON.stringify({ version: { id: 'v1' }, durability: { replicated: 2 }, regions: { held: 2, total: 2 }, waitFor: { replicated: 2, satisfied: true } }), { status: 201 })
    }
    const x = await run(['create', 'notes/1', '--url', 'http://relay.test/', '--label', 'before the rewrite', '--wait-for', 'replicated:2', '--timeout-ms', '5000'], fake)
    expect(x.code).toBe(0)
    expect(x.stdout).toEqual(['v1\n'])
    expect(x.stderr.join('')).toContain('replicated(2), as asked')
    expect(calls).toHaveLength(1)
    expect(calls[0]?.url).toBe('http://relay.test/v1/docs/notes%2F1/versions?waitFor=replicated%3A2&timeoutMs=5000')
    expect(calls[0]?.init).toMatchObject({ method: 'POST', body: JSON.stringify({ label: 'before the rewrite' }), headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } })

    const failing: typeof fetch = async () => new Response(JSON.stringify({ error: { code: 'ERR_VERSION_NOT_FOUND', message: 'v9' } }), { status: 404 })
    const missing = await run(['diff', 'notes/1', 'v9', '--against', 'v1', '--url', 'http://relay.test'], failing)
    expect(missing.code).toBe(1)
    expect(missing.stderr.join('')).toContain('GET /v1/docs/notes%2F1/versions/v9/diff?against=v1 → 404 ERR_VERSION_NOT_FOUND: v9')
  })

  it('refuses a bad command line (exit 2) and prints its help', async () => {
    const never: typeof fetch = async () => {
      throw new Error('no request expected')
    }
    for (const argv of [['frobnicate', 'a'], ['ls'], ['get', 'a'], ['restore', 'a'], ['ls', 'a', 'b'], ['create', 'a', '--nope'], ['ls', 'a']]) {
      const x = io(never)
      expect(await docsCommand(['versions', ...argv], argv[0] === 'ls' && argv.length === 2 ? {} : env, x), argv.join(' ')).toBe(2)
      expect(x.stderr.join('')).toContain('Usage: meridian-relay docs versions')
    }
    const help = await run(['--help'], never)
    expect(help.code).toBe(0)
    expect(help.stdout.join('')).toContain('restore <doc> <id>')
  })
})
