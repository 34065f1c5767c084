import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { jwtVerify } from 'jose'
import { CliError, parseCli } from './cli-options.js'
import { mintTokenCommand } from './mint-token.js'

const SECRET = 'unit-secret-that-is-at-least-32-bytes-long'
const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-unit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const parse = (argv: string[], env: Record<string, string | undefined> = {}) => {
  const config = parseCli(argv, env)
  if (config === 'help') throw new Error('unexpected help')
  return config.hardening
}

describe('auth and limit flags', () => {
  it('requires --auth (or MERIDIAN_AUTH) and checks it against the key material', () => {
    expect(() => parse([])).toThrow(/choose authentication/)
    expect(() => parse(['--auth', 'maybe'])).toThrow(CliError)
    expect(() => parse(['--auth', 'jwt'])).toThrow(/needs --jwt-secret/)
    expect(() => parse(['--auth', 'none', '--jwt-secret', SECRET])).toThrow(/contradicts/)
    expect(() => parse(['--auth', 'jwt', '--jwt-secret', 'short'])).toThrow(/32 bytes/)
    expect(() => parse(['--auth', 'jwt', '--jwt-public-key', join(dir, 'missing.pem')])).toThrow(/cannot read/)
    const none = parse([], { MERIDIAN_AUTH: 'none' })
    expect(none.options.auth).toEqual({ mode: 'none' })
    expect(none.warnings[0]).toMatch(/--auth none/)
    // Flags win over the environment.
    expect(parse(['--auth', 'jwt'], { MERIDIAN_AUTH: 'none', MERIDIAN_JWT_SECRET: SECRET }).options.auth).toMatchObject({ mode: 'jwt', secret: SECRET })
  })

  it('maps the budget flags (nesting, delete splits, document memory, presence, header timeout) and their variables', () => {
    const o = parse(['--auth', 'none', '--max-nesting-depth', '64', '--max-delete-splits', '500', '--max-document-memory-bytes', '1048576',
      '--max-awareness-ids-per-connection', '2', '--header-timeout-ms', '2000'], { MERIDIAN_MAX_AWARENESS_STATE_BYTES: '1024' }).options
    expect(o).toMatchObject({
      maxNestingDepth: 64,
      maxDeleteSplits: 500,
      maxDocumentMemoryBytes: 1_048_576,
      maxAwarenessIdsPerConnection: 2,
      maxAwarenessStateBytes: 1024,
      headerTimeoutMs: 2000
    })
    expect(() => parse(['--auth', 'none', '--max-nesting-depth', 'deep'])).toThrow(CliError)
  })

  it('maps every limit flag and MERIDIAN_* variable to the relay options', () => {
    const keyFile = join(dir, 'k.pem')
    writeFileSync(keyFile, '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n')
    const h = parse([
      '--auth', 'jwt', '--jwt-public-key', keyFile, '--jwt-issuer', 'iss', '--jwt-audience', 'aud', '--clock-tolerance-ms', '1000',
      '--admin-token', 'admin-token-0123456789', '--allowed-origins', 'https://a.example, https://*.b.example', '--trust-proxy', '10.0.0.0/8,127.0.0.1',
      '--max-frame-bytes', '1048576', '--max-document-bytes', '524288', '--max-buffered-bytes', '4194304',
      '--max-connections', '100', '--max-connections-per-ip', '10', '--max-docs-per-connection', '50', '--rate-messages-per-second', '50', '--rate-burst-messages', '100',
      '--rate-bytes-per-second', '1000000', '--rate-burst-bytes', '2000000', '--idle-timeout-ms', '0', '--ping-interval-ms', '15000',
      '--pre-auth-max-frames', '3', '--pre-auth-max-bytes', '2048', '--pre-auth-timeout-ms', '5000',
      '--http-requests-per-second', '5', '--http-burst-requests', '20'
    ])
    expect(h.options).toMatchObject({
      auth: { mode: 'jwt', issuer: 'iss', audience: 'aud', clockToleranceMs: 1000 },
      adminToken: 'admin-token-0123456789',
      allowedOrigins: ['https://a.example', 'https://*.b.example'],
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
      maxMessageBytes: 1048576,
      maxDocumentBytes: 524288,
      maxBufferedBytes: 4194304,
      maxConnections: 100,
      maxConnectionsPerIp: 10,
      maxDocsPerConnection: 50,
      rateLimit: { messagesPerSecond: 50, burstMessages: 100, bytesPerSecond: 1000000, burstBytes: 2000000 },
      httpRateLimit: { requestsPerSecond: 5, burstRequests: 20 },
      idleTimeoutMs: 0,
      pingIntervalMs: 15000,
      preAuth: { maxFrames: 3, maxBytes: 2048, timeoutMs: 5000 },
      processMetrics: true
    })
    expect(h.options.auth).toMatchObject({ publicKeys: [expect.stringContaining('BEGIN PUBLIC KEY')] })
    const fromEnv = parse([], { MERIDIAN_AUTH: 'none', MERIDIAN_MAX_FRAME_BYTES: '2048', MERIDIAN_RATE_BURST_MESSAGES: '7', MERIDIAN_PRE_AUTH_TIMEOUT_MS: '99', MERIDIAN_HTTP_REQUESTS_PER_SECOND: '0', MERIDIAN_MAX_DOCS_PER_CONNECTION: '7' })
    expect(fromEnv.options).toMatchObject({ maxMessageBytes: 2048, maxDocsPerConnection: 7, rateLimit: { burstMessages: 7 }, preAuth: { timeoutMs: 99 }, httpRateLimit: { requestsPerSecond: 0 } })
    expect(() => parse(['--auth', 'none', '--max-frame-bytes', 'lots'])).toThrow(/--max-frame-bytes must be/)
    expect(() => parse(['--auth', 'none', '--idle-timeout-ms', '-1'])).toThrow(CliError)
    expect(() => parse(['--auth', 'none', '--max-docs-per-connection', '0'])).toThrow(/--max-docs-per-connection must be at least 1/)
    expect(() => parse(['--auth', 'none', '--admin-token', 'short'])).toThrow(/16 characters/)
  })
})

describe('mint-token', () => {
  it('prints a token with the requested grants, lifetime and subject', async () => {
    let out = ''
    let err = ''
    const code = await mintTokenCommand(['--doc', 'team-1/*', '--doc', 'shared', '--access', 'read', '--ttl', '120', '--sub', 'bob'],
      { MERIDIAN_JWT_SECRET: SECRET }, (s) => { out += s }, (s) => { err += s })
    expect(code, err).toBe(0)
    const { payload } = await jwtVerify(out.trim(), new TextEncoder().encode(SECRET))
    expect(payload).toMatchObject({ sub: 'bob', docs: [{ pattern: 'team-1/*', access: 'read' }, { pattern: 'shared', access: 'read' }] })
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120)
    const usage = (argv: string[]): Promise<number> => mintTokenCommand(argv, {}, () => undefined, () => undefined)
    expect(await usage(['--secret', SECRET])).toBe(2)
    expect(await usage(['--doc', 'x'])).toBe(2)
    expect(await usage(['--secret', SECRET, '--doc', 'x', '--access', 'admin'])).toBe(2)
    expect(await usage(['--secret', SECRET, '--doc', 'x', '--ttl', '0'])).toBe(2)
    expect(await usage(['--secret', 'short', '--doc', 'x'])).toBe(2)
    expect(await usage(['--bogus'])).toBe(2)
  })
})
