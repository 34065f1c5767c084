// @hocuspocus/server v3 with its defaults (no extensions: documents live in memory).
import { Server } from '@hocuspocus/server'

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false })
await server.listen()
process.stdout.write(`@hocuspocus/server listening on ws://127.0.0.1:${server.address.port}\n`)
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
