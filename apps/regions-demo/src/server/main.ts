#!/usr/bin/env node
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEFAULT_REGIONS, startRegionsDemo } from './demo-server.js'

/**
 * `npm run demo:regions`: three regions on loopback and the page to watch them.
 * Ctrl-C (SIGINT) or SIGTERM stops everything: relays, proxies, temp dirs.
 */
const USAGE = `usage: node apps/regions-demo/dist/server/main.js [--port N] [--regions eu,us,ap] [--doc NAME]
  --port     port of the page on 127.0.0.1 (default 0: any free port, printed)
  --regions  comma-separated region names, one relay each (default ${DEFAULT_REGIONS.join(',')})
  --doc      document name the editors share (default regions-demo)`

async function main(): Promise<number> {
  let values: { port?: string; regions?: string; doc?: string; help?: boolean }
  try {
    values = parseArgs({ options: { port: { type: 'string' }, regions: { type: 'string' }, doc: { type: 'string' }, help: { type: 'boolean' } } }).values
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  const port = values.port === undefined ? 0 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`--port must be an integer 0..65535, got ${values.port ?? ''}\n${USAGE}`)
    return 2
  }
  const regions = values.regions?.split(',').map((r) => r.trim()).filter((r) => r !== '')
  console.log('starting the relays and the mesh…')
  const demo = await startRegionsDemo({
    pageDir: fileURLToPath(new URL('../page', import.meta.url)),
    port,
    ...(regions !== undefined ? { regions } : {}),
    ...(values.doc !== undefined ? { docName: values.doc } : {})
  })
  for (const r of demo.cluster.relays) console.log(`  ${r.region}: relay ${r.id} at ${r.url} (mesh links through ${r.proxy.url})`)
  console.log(`regions demo: ${demo.url}  (Ctrl-C stops everything)`)
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      console.log(`${signal}: stopping relays and proxies… (again to force)`)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await demo.close()
  return 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.exitCode = 1
  }
)
