import { parseArgs } from 'node:util'
import { resolve } from 'node:path'

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
  logLevel: string
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
  --log-level <level>     fatal|error|warn|info|debug|trace|silent (MERIDIAN_LOG_LEVEL, default ${CLI_DEFAULTS.logLevel})
  --help                  print this and exit
`

export class CliError extends Error {
  readonly code = 'ERR_CLI_USAGE'
}

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
        'log-level': { type: 'string' },
        help: { type: 'boolean' }
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
  const logLevel = values['log-level'] ?? env.MERIDIAN_LOG_LEVEL ?? CLI_DEFAULTS.logLevel
  if (!LOG_LEVELS.has(logLevel)) throw new CliError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}`)

  return {
    port,
    host: values.host ?? env.MERIDIAN_HOST ?? CLI_DEFAULTS.host,
    dataDir: resolve(values['data-dir'] ?? env.MERIDIAN_DATA_DIR ?? CLI_DEFAULTS.dataDir),
    region: values.region ?? env.MERIDIAN_REGION ?? CLI_DEFAULTS.region,
    nodeId: values['node-id'] ?? env.MERIDIAN_NODE_ID,
    peers,
    advertiseUrl,
    clusterSecret: values['cluster-secret'] ?? env.MERIDIAN_CLUSTER_SECRET,
    logLevel
  }
}
