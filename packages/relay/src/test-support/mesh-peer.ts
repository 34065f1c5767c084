import { createServer, connect, type Server, type Socket } from 'node:net'
import WebSocket from 'ws'
import { MESH_HANDSHAKE_VERSION, decodeMeshMessage, encodeMeshMessage, type MeshMember, type MeshMessage } from '@meridian/protocol'
import { meshHelloProof, meshNonce } from '@meridian/relay/internal'
import { waitUntil } from '@meridian/testing'

/**
 * A hand-driven mesh peer over a real WebSocket, for attacks: it completes the
 * handshake with the secret it is given (or not), then sends whatever a test
 * tells it to.
 */
export class RawMeshPeer {
  readonly received: MeshMessage[] = []
  closeCode: number | null = null
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      try {
        this.received.push(decodeMeshMessage(new Uint8Array(data)))
      } catch {
        // Not a mesh frame: ignored by the tests that use this peer.
      }
    })
    ws.on('close', (code) => {
      this.closeCode = code
    })
  }

  /** Dials `relayUrl`'s mesh endpoint and answers its challenge as `claim`, signing `self` with `secret`. */
  static async handshake(relayUrl: string, secret: string, self: MeshMember, claim: MeshMember = self): Promise<RawMeshPeer> {
    const ws = new WebSocket(`${relayUrl}/_meridian/mesh`, { perMessageDeflate: false })
    const peer = new RawMeshPeer(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    const nonce = meshNonce()
    peer.send({ type: 'mesh-challenge', version: MESH_HANDSHAKE_VERSION, nonce })
    await waitUntil(() => peer.received.some((m) => m.type === 'mesh-challenge') || peer.closeCode !== null, 'the relay challenged')
    const challenge = peer.received.find((m) => m.type === 'mesh-challenge')
    if (challenge?.type !== 'mesh-challenge') throw new Error('no challenge')
    // `claim`: what the hello says; `self`: what was signed (they differ only in attacks).
    peer.send({ type: 'mesh-hello', ...claim, proof: meshHelloProof(secret, 'dialer', challenge.nonce, nonce, self) })
    return peer
  }

  send(m: MeshMessage): void {
    this.ws.send(encodeMeshMessage(m))
  }

  close(): void {
    this.ws.terminate()
  }
}

/**
 * A TCP proxy that records every byte its clients send (an eavesdropper on
 * the wire between two relays), for replaying them later.
 */
export async function startRecordingProxy(targetPort: number): Promise<{ url: string; recorded: () => Buffer[]; close: () => Promise<void> }> {
  const connections: Buffer[][] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    const chunks: Buffer[] = []
    connections.push(chunks)
    client.on('data', (d: Buffer) => chunks.push(Buffer.from(d)))
    const drop = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  if (address === null || typeof address !== 'object') throw new Error('no address')
  return {
    url: `ws://127.0.0.1:${address.port}`,
    /** What each client connection sent, in order of connection. */
    recorded: () => connections.map((c) => Buffer.concat(c)),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Writes recorded bytes to a fresh TCP connection; resolves with what came back once the relay closes it (or after `timeoutMs`). */
export function replay(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const back: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(Buffer.concat(back))
    }, timeoutMs)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (d: Buffer) => back.push(d))
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(back))
    })
  })
}
