import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import type { HistoryOptions } from '@meridian/relay'
import { CliError } from './cli-error.js'
import { HARDENING_PARSE_OPTIONS, HARDENING_USAGE, parseHardening, type HardeningConfig } from './hardening-cli.js'
import { HISTORY_PARSE_OPTIONS, HISTORY_USAGE, parseHistory } from './history-cli.js'
import { LOG_FORMATS, type LogFormat } from './log-format.js'
import { REGION_PARSE_OPTIONS, REGION_USAGE, parseRegion, type RegionConfig } from './region-cli.js'
import { WEBHOOK_PARSE_OPTIONS, WEBHOOK_USAGE, parseWebhooks, type WebhookConfig } from './webhook-cli.js'

/** Everything the CLI accepts; every flag also has a MERIDIAN_* environment variable. */
export interface CliConfig {
  port: number
  host: string
  dataDir: string
  region: string
  nodeId: string | undefined
  peers: string[]
  advertiseUrl: string | undefined
  clusterSecret: string | undefined
  /** Mesh timing; undefined keeps the library defaults (DEFAULT_MESH_OPTIONS). */
  meshTiming: { heartbeatIntervalMs?: number; suspectAfterMs?: number; downAfterMs?: number; antiEntropyIntervalMs?: number }
  logLevel: string
  /** JSON lines or readable lines; 'auto': readable on a terminal, JSON otherwise (log-format.ts). */
  logFormat: LogFormat | 'auto'
  /** Documents with a home region (`pattern=region`): read-only where that region is unreachable. */
  homeRegions: { pattern: string; homeRegion: string }[]
  /** Serve this folder (the built demo) under /demo/ over HTTP; undefined: no demo. */
  serveDemo: string | undefined
  /** Serve this folder (the built editor demo) under /editor/; undefined: none. */
  serveEditor: string | undefined
  /** Auth and limits (hardening-cli.ts). */
  hardening: HardeningConfig
  /** SQLite (in dataDir) or PostgreSQL shared by the region's relays (region-cli.ts). */
  storage: RegionConfig['storage']
  /** Redis URL of the bus between the region's relays, if any (region-cli.ts). */
  bus: RegionConfig['bus']
  /** Webhooks and change-feed timing (webhook-cli.ts). */
  webhooks: WebhookConfig
  /** Retention and automatic versions (history-cli.ts). */
  history: HistoryOptions
}

export const CLI_DEFAULTS = {
  port: 4321,
  host: '127.0.0.1',
  dataDir: './data',
  region: 'default',
  logLevel: 'info'
} as const

export const USAGE = `Usage: meridian-relay [options]

  --port <n>              TCP port (MERIDIAN_PORT, default ${CLI_DEFAULTS.port}; 0 picks a free one)
  --host <addr>           interface to bind (MERIDIAN_HOST, default ${CLI_DEFAULTS.host})
  --data-dir <dir>        where the SQLite database lives (MERIDIAN_DATA_DIR, default ${CLI_DEFAULTS.dataDir})
  --region <name>         this relay's region (MERIDIAN_REGION, default ${CLI_DEFAULTS.region})
  --node-id <id>          this relay's id in the mesh (MERIDIAN_NODE_ID, default: random)
  --peer <url>            a relay to gossip with; repeatable (MERIDIAN_PEERS, comma-separated)
  --advertise-url <url>   the URL other relays dial to reach this one (MERIDIAN_ADVERTISE_URL)
  --cluster-secret <s>    shared secret between relays (MERIDIAN_CLUSTER_SECRET)
  --heartbeat-interval-ms <n>     mesh heartbeat period (MERIDIAN_HEARTBEAT_INTERVAL_MS, default 1000)
  --suspect-after-ms <n>          silence before a relay is suspect and its link redialed (MERIDIAN_SUSPECT_AFTER_MS, default 3000)
  --down-after-ms <n>             silence before a relay is down (MERIDIAN_DOWN_AFTER_MS, default 10000)
  --anti-entropy-interval-ms <n>  anti-entropy round period per link (MERIDIAN_ANTI_ENTROPY_INTERVAL_MS, default 250)
  --home-region <p=r>             documents matching glob p live in region r: read-only where r is unreachable; repeatable (MERIDIAN_HOME_REGIONS, comma-separated)
  --log-level <level>     fatal|error|warn|info|debug|trace|silent (MERIDIAN_LOG_LEVEL, default ${CLI_DEFAULTS.logLevel})
  --log-format <f>        json|pretty: JSON lines, or readable lines with the same fields (MERIDIAN_LOG_FORMAT;
                          default: pretty when stdout is a terminal, json otherwise)
  --serve-demo <dir>      also serve the built demo app from <dir> at /demo/ (MERIDIAN_SERVE_DEMO)
  --serve-editor <dir>    also serve the built editor demo from <dir> at /editor/ (MERIDIAN_SERVE_EDITOR)
  --help                  print this and exit
${HARDENING_USAGE}${REGION_USAGE}${WEBHOOK_USAGE}${HISTORY_USAGE}
  meridian-relay mint-token --help   mint a token for local use
`

export { CliError }

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/** Flags win over environment variables, which win over defaults. */
export function parseCli(argv: string[], env: Record<string, string | undefined>): CliConfig | 'help' {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        region: { type: 'string' },
        'node-id': { type: 'string' },
        peer: { type: 'string', multiple: true },
        'advertise-url': { type: 'string' },
        'cluster-secret': { type: 'string' },
        'heartbeat-interval-ms': { type: 'string' },
        'suspect-after-ms': { type: 'string' },
        'down-after-ms': { type: 'string' },
        'anti-entropy-interval-ms': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'home-region': { type: 'string', multiple: true },
        'serve-demo': { type: 'string' },
        'serve-editor': { type: 'string' },
        help: { type: 'boolean' },
        ...HARDENING_PARSE_OPTIONS,
        ...REGION_PARSE_OPTIONS,
        ...WEBHOOK_PARSE_OPTIONS,
        ...HISTORY_PARSE_OPTIONS
      }
    }))
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  if (values.help === true) return 'help'

  const portText = values.port ?? env.MERIDIAN_PORT ?? String(CLI_DEFAULTS.port)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new CliError(`--port must be an integer from 0 to 65535, got "${portText}"`)

  const peers = values.peer ?? (env.MERIDIAN_PEERS ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0)
  for (const peer of peers) {
    if (!/^wss?:\/\//.test(peer)) throw new CliError(`--peer must be a ws:// or wss:// URL, got "${peer}"`)
  }
  const advertiseUrl = values['advertise-url'] ?? env.MERIDIAN_ADVERTISE_URL
  if (advertiseUrl !== undefined && !/^wss?:\/\//.test(advertiseUrl)) {
    throw new CliError(`--advertise-url must be a ws:// or wss:// URL, got "${advertiseUrl}"`)
  }
  const clusterSecret = values['cluster-secret'] ?? env.MERIDIAN_CLUSTER_SECRET
  if (peers.length > 0 && clusterSecret === undefined) throw new CliError('--peer needs --cluster-secret (relays authenticate each other with it)')
  if (clusterSecret !== undefined && clusterSecret.length < 16) throw new CliError('--cluster-secret must be at least 16 characters')
  const ms = (flag: string, envName: string): number | undefined => {
    const text = (values as Record<string, string | undefined>)[flag] ?? env[envName]
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || Number(text) <= 0) throw new CliError(`--${flag} must be a positive integer, got "${text}"`)
    return Number(text)
  }
  const meshTiming = Object.fromEntries(
    ([
      ['heartbeatIntervalMs', ms('heartbeat-interval-ms', 'MERIDIAN_HEARTBEAT_INTERVAL_MS')],
      ['suspectAfterMs', ms('suspect-after-ms', 'MERIDIAN_SUSPECT_AFTER_MS')],
      ['downAfterMs', ms('down-after-ms', 'MERIDIAN_DOWN_AFTER_MS')],
      ['antiEntropyIntervalMs', ms('anti-entropy-interval-ms', 'MERIDIAN_ANTI_ENTROPY_INTERVAL_MS')]
    ] as const).filter(([, v]) => v !== undefined)
  )
  const homeRegions = (values['home-region'] ?? (env.MERIDIAN_HOME_REGIONS ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0)).map((spec) => {
    const at = spec.lastIndexOf('=')
    if (at <= 0 || at === spec.length - 1) throw new CliError(`--home-region must look like "pattern=region" (e.g. "orders/*=eu"), got "${spec}"`)
    return { pattern: spec.slice(0, at), homeRegion: spec.slice(at + 1) }
  })
  const logLevel = values['log-level'] ?? env.MERIDIAN_LOG_LEVEL ?? CLI_DEFAULTS.logLevel
  if (!LOG_LEVELS.has(logLevel)) throw new CliError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}`)
  const logFormatText = values['log-format'] ?? env.MERIDIAN_LOG_FORMAT
  const logFormat = logFormatText === undefined ? 'auto' : LOG_FORMATS.find((f) => f === logFormatText)
  if (logFormat === undefined) throw new CliError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got "${logFormatText}"`)

  return {
    port,
    host: values.host ?? env.MERIDIAN_HOST ?? CLI_DEFAULTS.host,
    dataDir: resolve(values['data-dir'] ?? env.MERIDIAN_DATA_DIR ?? CLI_DEFAULTS.dataDir),
    region: values.region ?? env.MERIDIAN_REGION ?? CLI_DEFAULTS.region,
    nodeId: values['node-id'] ?? env.MERIDIAN_NODE_ID,
    peers,
    advertiseUrl,
    clusterSecret,
    meshTiming,
    logLevel,
    logFormat,
    homeRegions,
    serveDemo: resolveOptional(values['serve-demo'] ?? env.MERIDIAN_SERVE_DEMO),
    serveEditor: resolveOptional(values['serve-editor'] ?? env.MERIDIAN_SERVE_EDITOR),
    hardening: parseHardening(values, env),
    ...parseRegion(values, env),
    webhooks: parseWebhooks(values, env),
    history: parseHistory(values, env)
  }
}

function resolveOptional(path: string | undefined): string | undefined {
  return path === undefined || path.length === 0 ? undefined : resolve(path)
}
