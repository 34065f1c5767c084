#!/usr/bin/env node
import { pino } from 'pino'
import { buildRelay } from '@meridian/relay'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { CliError, USAGE, parseCli } from './cli-options.js'
import { serveDemo } from './static.js'

async function main(): Promise<void> {
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

  const logger = pino({ level: config.logLevel, base: { region: config.region } })
  const storage = openSqliteStorage({ dataDir: config.dataDir })
  const relay = await buildRelay({
    storage,
    logger,
    region: config.region,
    ...(config.nodeId !== undefined ? { nodeId: config.nodeId } : {}),
    // A cluster secret makes this relay a mesh member (a relay with no --peer is a seed for others).
    ...(config.clusterSecret !== undefined
      ? { mesh: { clusterSecret: config.clusterSecret, peers: config.peers, ...config.meshTiming, ...(config.advertiseUrl !== undefined ? { advertiseUrl: config.advertiseUrl } : {}) } }
      : {})
  })

  // --serve-demo: the built demo app at /demo/ (HTTP GET only; WebSocket upgrades still reach documents).
  if (config.serveDemo !== undefined) await serveDemo(relay.app, { dir: config.serveDemo, print: (line) => process.stdout.write(line) })

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
  logger.info({ url, dataDir: config.dataDir, nodeId: relay.options.nodeId }, 'relay started')
  process.stdout.write(`meridian-relay ${relay.options.nodeId} (${config.region}) listening on ${url}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`meridian-relay: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
