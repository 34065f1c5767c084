import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { buildRelay } from '@meridian/relay'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { openPostgresStorage, redactConnectionString } from '@meridian/storage-postgres'
import { openRedisBus, redactRedisUrl } from '@meridian/bus-redis'
import { CliError } from './cli-error.js'
import { USAGE, parseCli } from './cli-options.js'
import { defaultBusPrefix } from './region-cli.js'
import { mintTokenCommand } from './mint-token.js'
import { docsCommand } from './docs-cli.js'
import { EDITOR_PREFIX, serveDemo } from './static.js'
import { prettyDestination, resolveLogFormat } from './log-format.js'

async function main(): Promise<void> {
  if (process.argv[2] === 'mint-token') {
    process.exitCode = await mintTokenCommand(process.argv.slice(3), process.env, (s) => process.stdout.write(s), (s) => process.stderr.write(s))
    return
  }
  if (process.argv[2] === 'docs') {
    process.exitCode = await docsCommand(process.argv.slice(3), process.env, {
      fetch,
      out: (s) => process.stdout.write(s),
      outBytes: (b) => process.stdout.write(b),
      err: (s) => process.stderr.write(s),
      openStorage: async (target) => 'postgres' in target
        ? openPostgresStorage({ connectionString: target.postgres, poolSize: 2 })
        : openSqliteStorage({ dataDir: target.dataDir })
    })
    return
  }
  let config
  try {
    config = parseCli(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`meridian-relay: ${err.message}\n\n${USAGE}`)
      process.exit(2)
    }
    throw err
  }
  if (config === 'help') {
    process.stdout.write(USAGE)
    return
  }

  // The relay never logs tokens or URLs with them; this redaction is a second line of defence.
  const loggerOptions = { level: config.logLevel, base: { region: config.region }, redact: ['req.url', 'req.headers.authorization', 'token', '*.token'] }
  // Everything the relay says goes through the logger, so stdout is all JSON lines or all readable lines.
  const logger = resolveLogFormat(config.logFormat, process.stdout.isTTY === true) === 'pretty'
    ? pino(loggerOptions, prettyDestination((text) => process.stdout.write(text)))
    : pino(loggerOptions)
  for (const warning of config.hardening.warnings) logger.warn(warning)
  // SQLite for a relay alone in its region; PostgreSQL when several relays share the region's documents.
  const storage = config.storage.kind === 'postgres'
    ? await openPostgresStorage({
        connectionString: config.storage.url,
        onError: (err) => logger.warn({ err }, 'PostgreSQL connection error (the pool reconnects)')
      })
    : openSqliteStorage({ dataDir: config.dataDir })
  // The bus names its messages by the relay's node id, so both get the same one.
  const nodeId = config.nodeId ?? randomUUID()
  // --bus: fan-out between the relays of the region (Redis Streams); it connects in the background.
  const bus = config.bus === undefined
    ? undefined
    : openRedisBus({ url: config.bus, nodeId, keyPrefix: new URL(config.bus).searchParams.get('prefix') ?? defaultBusPrefix(config.region) })
  const relay = await buildRelay({
    storage,
    ...(bus !== undefined ? { bus } : {}),
    nodeId,
    logger,
    region: config.region,
    ...config.hardening.options,
    documentPolicies: config.homeRegions,
    webhooks: config.webhooks.webhooks,
    changeFeed: config.webhooks.changeFeed,
    history: config.history,
    // A cluster secret makes this relay a mesh member (a relay with no --peer is a seed for others).
    ...(config.clusterSecret !== undefined
      ? {
          mesh: {
            clusterSecret: config.clusterSecret,
            peers: config.peers,
            ...config.meshTiming,
            ...(config.advertiseUrl !== undefined ? { advertiseUrl: config.advertiseUrl } : {})
          }
        }
      : {})
  })

  // --serve-demo: the built demo app at /demo/ (HTTP GET only; WebSocket upgrades still reach documents).
  if (config.serveDemo !== undefined) await serveDemo(relay.app, { dir: config.serveDemo, print: (line) => logger.info(line.trim()) })
  if (config.serveEditor !== undefined) await serveDemo(relay.app, { dir: config.serveEditor, prefix: EDITOR_PREFIX, print: (line) => logger.info(line.trim()) })

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down: closing connections and flushing storage')
    relay
      .close()
      .then(() => bus?.close())
      .then(() => storage.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed')
          process.exit(1)
        }
      )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  const url = await relay.listen({ port: config.port, host: config.host })
  // The start line of the CLI contract ("listening on ws://HOST:PORT"); a space follows the URL so that
  // scripts can match /listening on (ws:\/\/\S+)/ in both formats. Printed at any --log-level.
  logger.child({}, { level: 'info' }).info({
    url,
    nodeId: relay.options.nodeId,
    storage: config.storage.kind === 'postgres' ? redactConnectionString(config.storage.url) : `sqlite in ${config.dataDir}`,
    ...(config.bus !== undefined ? { bus: redactRedisUrl(config.bus) } : {})
  }, `meridian-relay listening on ${url} as ${relay.options.nodeId} (${config.region})`)
}

main().catch((err: unknown) => {
  process.stderr.write(`meridian-relay: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
