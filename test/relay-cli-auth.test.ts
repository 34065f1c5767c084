import { spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, resolveRelayMain, startRelayProcess, type RelayProcess } from '@meridian/testing'

const MAIN = resolveRelayMain()
const SECRET = 'cli-secret-that-is-at-least-32-bytes-long'
const ADMIN = 'cli-admin-token-0123456789'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function relayProcess(args: string[], env: Record<string, string> = {}): Promise<RelayProcess> {
  const p = await startRelayProcess(args, { env })
  cleanups.push(() => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
  return p
}

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MERIDIAN_AUTH: '', ...env } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const http = (p: RelayProcess, path: string, init?: RequestInit): Promise<Response> => fetch(p.url.replace('ws://', 'http://') + path, init)

describe('meridian-relay auth flags', () => {
  it('requires an explicit auth choice (exit 2) and documents every auth and limit flag', () => {
    const none = cli(['--port', '0'])
    expect(none.status).toBe(2)
    expect(none.stderr).toMatch(/--auth jwt .* or --auth none/)
    // The other validations are unit-tested in apps/relay/src/hardening-cli.test.ts.
    const help = cli(['--help'])
    expect(help.status).toBe(0)
    for (const flag of ['--auth', '--jwt-public-key', '--admin-token', '--allowed-origins', '--max-frame-bytes', '--max-document-bytes',
      '--max-buffered-bytes', '--max-connections-per-ip', '--max-docs-per-connection', '--rate-messages-per-second', '--idle-timeout-ms', '--ping-interval-ms', '--pre-auth-timeout-ms']) {
      expect(help.stdout).toContain(flag)
    }
  })

  it('--auth none starts with a warning', async () => {
    const relay = await relayProcess(['--data-dir', tempDir(), '--auth', 'none'])
    expect(relay.output()).toMatch(/WARNING: --auth none/)
    const c = await RawClient.connect(relay.url, 'open-doc')
    c.edit((d) => d.getMap('m').set('k', 1))
    await c.next('ack', (m) => m.upTo >= 2)
  })

  it('mint-token makes HS256 tokens the relay accepts; status needs the admin token; tokens never reach the logs', async () => {
    const dir = tempDir()
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, `${SECRET}\n`)
    const relay = await relayProcess(['--data-dir', dir, '--auth', 'jwt', '--jwt-secret-file', secretFile, '--log-level', 'trace'], { MERIDIAN_ADMIN_TOKEN: ADMIN })
    expect(relay.output()).not.toMatch(/WARNING/)
    const minted = cli(['mint-token', '--doc', 'team-1/*', '--access', 'write', '--ttl', '60', '--sub', 'alice'], { MERIDIAN_JWT_SECRET: SECRET })
    expect(minted.status).toBe(0)
    const write = minted.stdout.trim()
    expect(write.split('.')).toHaveLength(3)
    const read = cli(['mint-token', '--secret', SECRET, '--doc', 'team-1/*', '--access', 'read']).stdout.trim()
    expect(cli(['mint-token', '--secret', SECRET]).status).toBe(2)

    const writer = await RawClient.connect(relay.url, 'team-1/board', { query: { token: write } })
    writer.edit((d) => d.getText('t').insert(0, 'hi'))
    await writer.next('ack', (m) => m.upTo >= 2)
    const reader = await RawClient.connect(relay.url, 'team-1/board', { query: { token: read } })
    reader.edit((d) => d.getText('t').insert(0, 'no'))
    await reader.next('error', (m) => m.code === 'ERR_READ_ONLY')
    const elsewhere = await RawClient.connect(relay.url, 'team-2/board', { query: { token: write } })
    expect((await elsewhere.closed()).code).toBe(4403)
    const anonymous = await RawClient.connect(relay.url, 'team-1/board', { hello: false })
    anonymous.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    expect((await anonymous.closed()).code).toBe(4410)

    expect((await http(relay, '/v1/status')).status).toBe(401)
    const status = await http(relay, '/v1/status', { headers: { authorization: `Bearer ${ADMIN}` } })
    expect(await status.json()).toMatchObject({ auth: { mode: 'jwt' }, connections: { byAccess: { read: 1, write: 1 } } })
    const metrics = await (await http(relay, '/metrics')).text()
    expect(metrics).toMatch(/^meridian_relay_connections_refused_total\{reason="forbidden"\} 1$/m)
    expect(metrics).toMatch(/^meridian_relay_process_cpu_seconds_total /m)

    await writer.close()
    await reader.close()
    const exit = await relay.kill('SIGTERM')
    expect(exit.code).toBe(0)
    const out = relay.output()
    expect(out).toContain('"msg":"connection refused"')
    expect(out).not.toContain(write)
    expect(out).not.toContain(read)
    expect(out).not.toContain(SECRET)
  })

  it('verifies EdDSA tokens against a public key file (PEM) and ES256 ones against a JWK', async () => {
    const dir = tempDir()
    const ed = generateKeyPairSync('ed25519')
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const files = {
      edPublic: join(dir, 'ed.pub.pem'),
      edPrivate: join(dir, 'ed.pem'),
      ecPublic: join(dir, 'ec.pub.jwk'),
      ecPrivate: join(dir, 'ec.jwk')
    }
    writeFileSync(files.edPublic, ed.publicKey.export({ type: 'spki', format: 'pem' }))
    writeFileSync(files.edPrivate, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }))
    writeFileSync(files.ecPublic, JSON.stringify(ec.publicKey.export({ format: 'jwk' })))
    writeFileSync(files.ecPrivate, JSON.stringify(ec.privateKey.export({ format: 'jwk' })))
    const relay = await relayProcess(['--data-dir', dir, '--auth', 'jwt', '--jwt-public-key', files.edPublic, '--jwt-public-key', files.ecPublic])
    for (const key of [files.edPrivate, files.ecPrivate]) {
      const minted = cli(['mint-token', '--private-key', key, '--doc', 'signed/**'])
      expect(minted.status, minted.stderr).toBe(0)
      const c = await RawClient.connect(relay.url, 'signed/a/b', { query: { token: minted.stdout.trim() } })
      c.edit((d) => d.getMap('m').set(key, true))
      await c.next('ack', (m) => m.upTo >= 2)
      await c.close()
    }
    // An HS256 token is refused: this relay has no shared secret.
    const hs = cli(['mint-token', '--secret', SECRET, '--doc', 'signed/**']).stdout.trim()
    const refused = await RawClient.connect(relay.url, 'signed/a', { query: { token: hs } })
    expect((await refused.closed()).code).toBe(4410)
  })
})
