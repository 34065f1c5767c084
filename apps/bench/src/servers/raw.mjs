// The physical ceiling: a `ws` server that forwards every binary message to the
// other sockets of the same room (URL path) without any CRDT work. It keeps the
// update messages it has seen so that a joiner can be served the document:
// on a client's sync-step1 it replays them as they were received, then sends an
// empty sync-step2 as the end of the handshake. No Yjs, no re-encoding.
import http from 'node:http'
import { WebSocketServer } from 'ws'

const EMPTY_STEP1 = new Uint8Array([0, 0, 1, 0]) // sync-step1 with an empty state vector
const EMPTY_STEP2 = new Uint8Array([0, 1, 2, 0, 0]) // sync-step2 with an empty update

/** @type {Map<string, { sockets: Set<import('ws').WebSocket>, log: Uint8Array[] }>} */
const rooms = new Map()

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end('raw')
})
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 })
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
})

wss.on('connection', (ws, req) => {
  const name = (req.url ?? '/').slice(1).split('?')[0] ?? ''
  let room = rooms.get(name)
  if (room === undefined) rooms.set(name, (room = { sockets: new Set(), log: [] }))
  const { sockets, log } = room
  sockets.add(ws)
  ws.send(EMPTY_STEP1)
  ws.on('message', (data, isBinary) => {
    if (!isBinary || !(data instanceof Buffer) || data.length < 2) return
    if (data[0] !== 0) {
      // Awareness and everything else: forwarded as is.
      for (const peer of sockets) if (peer !== ws) peer.send(data)
      return
    }
    const subtype = data[1]
    if (subtype === 0) {
      // sync-step1: replay the room's updates, then end the handshake.
      for (const message of log) ws.send(message)
      ws.send(EMPTY_STEP2)
      return
    }
    if (data.length === 5 && data[2] === 2 && data[3] === 0 && data[4] === 0) return // an empty update
    // A step 2 carries an update like a sync-update does; only the subtype byte differs.
    let message = data
    if (subtype === 1) {
      message = Buffer.from(data)
      message[1] = 2
    }
    log.push(message)
    for (const peer of sockets) if (peer !== ws) peer.send(message)
  })
  ws.on('close', () => {
    sockets.delete(ws)
  })
  ws.on('error', () => {})
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.stdout.write(`raw ws server listening on ws://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
