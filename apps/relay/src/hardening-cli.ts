/**
 * CLI flags and MERIDIAN_* variables for authentication and limits, mapped to
 * the relay's HardeningOptions (the library never reads the environment).
 * Flags win over environment variables, which win over the library defaults
 * (DEFAULT_RELAY_OPTIONS). Auth has no default: `--auth none` or `--auth jwt`
 * must be chosen.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_RELAY_OPTIONS, type AuthOptions, type HardeningOptions } from '@meridian/relay'
import { CliError } from './cli-error.js'

/** Merged into the CLI's parseArgs options. */
export const HARDENING_PARSE_OPTIONS = {
  auth: { type: 'string' },
  'jwt-secret': { type: 'string' },
  'jwt-secret-file': { type: 'string' },
  'jwt-public-key': { type: 'string', multiple: true },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
  'clock-tolerance-ms': { type: 'string' },
  'admin-token': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'max-frame-bytes': { type: 'string' },
  'max-document-bytes': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'max-docs-per-connection': { type: 'string' },
  'rate-messages-per-second': { type: 'string' },
  'rate-burst-messages': { type: 'string' },
  'rate-bytes-per-second': { type: 'string' },
  'rate-burst-bytes': { type: 'string' },
  'http-requests-per-second': { type: 'string' },
  'http-burst-requests': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'ping-interval-ms': { type: 'string' },
  'pre-auth-max-frames': { type: 'string' },
  'pre-auth-max-bytes': { type: 'string' },
  'pre-auth-timeout-ms': { type: 'string' },
  'header-timeout-ms': { type: 'string' },
  'max-nesting-depth': { type: 'string' },
  'max-delete-splits': { type: 'string' },
  'max-document-memory-bytes': { type: 'string' },
  'max-awareness-ids-per-connection': { type: 'string' },
  'max-awareness-state-bytes': { type: 'string' }
} as const

const D = DEFAULT_RELAY_OPTIONS

export const HARDENING_USAGE = `
Auth (required: choose one):
  --auth none|jwt                 none: anyone who reaches the relay reads and writes everything (MERIDIAN_AUTH)
  --jwt-secret <s>                HS256 shared secret, >= 32 bytes (MERIDIAN_JWT_SECRET; prefer the env or a file)
  --jwt-secret-file <file>        read the HS256 secret from a file (MERIDIAN_JWT_SECRET_FILE)
  --jwt-public-key <file>         EdDSA/ES256 public key, PEM or JWK; repeatable (MERIDIAN_JWT_PUBLIC_KEYS, comma-separated)
  --jwt-issuer <iss>              require this iss claim (MERIDIAN_JWT_ISSUER)
  --jwt-audience <aud>            require this aud claim (MERIDIAN_JWT_AUDIENCE)
  --clock-tolerance-ms <n>        accepted clock skew for exp/nbf (MERIDIAN_CLOCK_TOLERANCE_MS, default 30000)
  --admin-token <t>               bearer token for /v1/* (MERIDIAN_ADMIN_TOKEN; >= 16 characters)
  --allowed-origins <list>        comma-separated browser origins, * globs allowed (MERIDIAN_ALLOWED_ORIGINS, default any)
  --trust-proxy <list>            true, or comma-separated proxy addresses/CIDRs whose X-Forwarded-For is trusted (MERIDIAN_TRUST_PROXY)

Limits (MERIDIAN_ + the flag name in upper snake case, e.g. MERIDIAN_MAX_FRAME_BYTES):
  --max-frame-bytes <n>           largest WebSocket frame (ws maxPayload; 1009 above) (default ${D.maxMessageBytes})
  --max-document-bytes <n>        refuse writes past this document size (4413) (default ${D.maxDocumentBytes})
  --max-buffered-bytes <n>        send buffer of a client that does not read, then disconnect (default ${D.maxBufferedBytes})
  --max-connections <n>           open document connections in total (1013 above) (default ${D.maxConnections})
  --max-connections-per-ip <n>    per client address (default ${D.maxConnectionsPerIp})
  --max-docs-per-connection <n>   documents open at once on one multiplexed connection (1013 ERR_TOO_MANY_DOCS above) (default ${D.maxDocsPerConnection})
  --rate-messages-per-second <n>  per connection; 0 = unlimited (default ${D.rateLimit.messagesPerSecond})
  --rate-burst-messages <n>       (default ${D.rateLimit.burstMessages})
  --rate-bytes-per-second <n>     per connection; 0 = unlimited (default ${D.rateLimit.bytesPerSecond})
  --rate-burst-bytes <n>          (default ${D.rateLimit.burstBytes}, at least --max-frame-bytes)
  --http-requests-per-second <n>  /v1/docs/** and /v1/changes, per address and per token; 0 = unlimited (429 above) (default ${D.httpRateLimit.requestsPerSecond})
  --http-burst-requests <n>       (default ${D.httpRateLimit.burstRequests})
  --idle-timeout-ms <n>           close connections silent this long (4008); 0 = never (default ${D.idleTimeoutMs})
  --ping-interval-ms <n>          ping period; no pong by the next ping terminates; 0 = off (default ${D.pingIntervalMs})
  --pre-auth-max-frames <n>       frames before the auth message is verified (default ${D.preAuth.maxFrames})
  --pre-auth-max-bytes <n>        bytes before then (default ${D.preAuth.maxBytes})
  --pre-auth-timeout-ms <n>       time to send a valid auth message (4408) (default ${D.preAuth.timeoutMs})
  --header-timeout-ms <n>         destroy a connection whose HTTP headers are not complete by then (default ${D.headerTimeoutMs})
  --max-nesting-depth <n>         refuse updates nesting shared types deeper (4400) (default ${D.maxNestingDepth})
  --max-delete-splits <n>         refuse updates whose delete set cuts more items (4400) (default ${D.maxDeleteSplits})
  --max-document-memory-bytes <n> memory budget of loaded documents: evict idle, then 1013 (default ${D.maxDocumentMemoryBytes})
  --max-awareness-ids-per-connection <n>  presence ids one writing connection may own (default ${D.maxAwarenessIdsPerConnection})
  --max-awareness-state-bytes <n> largest presence state (default ${D.maxAwarenessStateBytes})
`

export interface HardeningConfig {
  options: HardeningOptions & { maxMessageBytes?: number }
  /** Lines the CLI prints to stderr at start (e.g. that auth is off). */
  warnings: string[]
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>

const envName = (flag: string): string => `MERIDIAN_${flag.replace(/-/g, '_').toUpperCase()}`

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliError(`${what}: cannot read ${path} (${(err as Error).message})`)
  }
}

export function parseHardening(values: Values, env: Record<string, string | undefined>): HardeningConfig {
  const str = (flag: string, envKey = envName(flag)): string | undefined => {
    const v = values[flag]
    return typeof v === 'string' ? v : env[envKey]
  }
  const int = (flag: string, min = 0): number | undefined => {
    const text = str(flag)
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new CliError(`--${flag} must be a non-negative integer, got "${text}"`)
    if (Number(text) < min) throw new CliError(`--${flag} must be at least ${min}, got ${text}`)
    return Number(text)
  }

  const secretFile = str('jwt-secret-file')
  const secret = str('jwt-secret') ?? (secretFile !== undefined ? readText(secretFile, '--jwt-secret-file').trim() : undefined)
  const keyFlag = values['jwt-public-key']
  const keyFiles = Array.isArray(keyFlag)
    ? keyFlag.filter((k): k is string => typeof k === 'string')
    : (env.MERIDIAN_JWT_PUBLIC_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0)
  const jwtConfigured = secret !== undefined || keyFiles.length > 0
  const mode = str('auth') || undefined
  if (mode === undefined) {
    throw new CliError('choose authentication: --auth jwt (with --jwt-secret or --jwt-public-key) or --auth none (anyone who can reach the relay may read and write every document)')
  }
  if (mode !== 'none' && mode !== 'jwt') throw new CliError(`--auth must be none or jwt, got "${mode}"`)
  let auth: AuthOptions
  const warnings: string[] = []
  if (mode === 'none') {
    if (jwtConfigured) throw new CliError('--auth none contradicts the JWT secret/keys given; use --auth jwt')
    auth = { mode: 'none' }
    warnings.push('WARNING: --auth none: anyone who can reach this relay may read and write every document. Bind it to loopback or use --auth jwt.')
  } else {
    if (!jwtConfigured) throw new CliError('--auth jwt needs --jwt-secret, --jwt-secret-file or --jwt-public-key')
    if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) throw new CliError('the JWT secret must be at least 32 bytes')
    const issuer = str('jwt-issuer')
    const audience = str('jwt-audience')
    const clockToleranceMs = int('clock-tolerance-ms')
    auth = {
      mode: 'jwt',
      ...(secret !== undefined ? { secret } : {}),
      ...(keyFiles.length > 0 ? { publicKeys: keyFiles.map((f) => readText(f, '--jwt-public-key')) } : {}),
      ...(issuer !== undefined ? { issuer } : {}),
      ...(audience !== undefined ? { audience } : {}),
      ...(clockToleranceMs !== undefined ? { clockToleranceMs } : {})
    }
  }

  const adminToken = str('admin-token')
  if (adminToken !== undefined && adminToken.length < 16) throw new CliError('--admin-token must be at least 16 characters')
  const origins = str('allowed-origins')
  const trust = str('trust-proxy')
  const options: HardeningConfig['options'] = { auth, processMetrics: true }
  if (adminToken !== undefined) options.adminToken = adminToken
  if (origins !== undefined) options.allowedOrigins = origins.split(',').map((o) => o.trim()).filter((o) => o.length > 0)
  if (trust !== undefined) options.trustProxy = trust === 'true' ? true : trust === 'false' ? false : trust.split(',').map((t) => t.trim())
  const set = <K extends keyof HardeningConfig['options']>(key: K, value: HardeningConfig['options'][K] | undefined): void => {
    if (value !== undefined) options[key] = value
  }
  set('maxMessageBytes', int('max-frame-bytes'))
  set('maxDocumentBytes', int('max-document-bytes'))
  set('maxBufferedBytes', int('max-buffered-bytes'))
  set('maxConnections', int('max-connections'))
  set('maxConnectionsPerIp', int('max-connections-per-ip'))
  set('maxDocsPerConnection', int('max-docs-per-connection', 1))
  set('idleTimeoutMs', int('idle-timeout-ms'))
  set('pingIntervalMs', int('ping-interval-ms'))
  set('headerTimeoutMs', int('header-timeout-ms'))
  set('maxNestingDepth', int('max-nesting-depth'))
  set('maxDeleteSplits', int('max-delete-splits'))
  set('maxDocumentMemoryBytes', int('max-document-memory-bytes'))
  set('maxAwarenessIdsPerConnection', int('max-awareness-ids-per-connection'))
  set('maxAwarenessStateBytes', int('max-awareness-state-bytes'))
  const rateLimit = {
    messagesPerSecond: int('rate-messages-per-second'),
    burstMessages: int('rate-burst-messages'),
    bytesPerSecond: int('rate-bytes-per-second'),
    burstBytes: int('rate-burst-bytes')
  }
  options.rateLimit = Object.fromEntries(Object.entries(rateLimit).filter(([, v]) => v !== undefined))
  const httpRateLimit = {
    requestsPerSecond: int('http-requests-per-second'),
    burstRequests: int('http-burst-requests')
  }
  options.httpRateLimit = Object.fromEntries(Object.entries(httpRateLimit).filter(([, v]) => v !== undefined))
  const preAuth = {
    maxFrames: int('pre-auth-max-frames'),
    maxBytes: int('pre-auth-max-bytes'),
    timeoutMs: int('pre-auth-timeout-ms')
  }
  options.preAuth = Object.fromEntries(Object.entries(preAuth).filter(([, v]) => v !== undefined))
  return { options, warnings }
}
