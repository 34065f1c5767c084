import type * as Y from 'yjs'
import { cpuDeltaMs, sampleProcess } from '../proc.js'
import { sleep, withTimeout, type RunContext } from '../scenario.js'
import type { ServerTarget } from '../servers.js'
import { countingWebSocket } from './counting-socket.js'
import { createSyncClient, type SdkSubject, type SyncClient, type SyncClientOptions } from './sync-clients.js'

export interface ClientRun {
  /** From creating the client until `work` resolved. */
  timeMs: number
  bytesUp: number
  bytesDown: number
  sockets: number
  serverCpuMs: number
}

/** Messages that arrive just after the measured point (acks, awareness) still count as bytes and server CPU. */
const TAIL_MS = 200

/**
 * Creates `subject`'s client with a counting WebSocket, runs `work` with it
 * (timed), then — after a short tail — reads the wire counters and the
 * server's CPU; `whileOpen` runs before the client is destroyed (e.g. to read
 * the server's RSS with everything still open).
 */
export async function measureClient(
  server: ServerTarget,
  subject: SdkSubject,
  options: Pick<SyncClientOptions, 'local' | 'dbName' | 'timeoutMs'>,
  work: (client: SyncClient) => Promise<void>,
  whileOpen?: () => Promise<void>
): Promise<ClientRun> {
  const wire = countingWebSocket()
  const before = sampleProcess(server.pid)
  const started = performance.now()
  const client = await createSyncClient(subject, { ...options, url: server.url, WebSocket: wire.WebSocket })
  try {
    await work(client)
    const timeMs = performance.now() - started
    await sleep(TAIL_MS)
    const serverCpuMs = cpuDeltaMs(before, sampleProcess(server.pid))
    const { sockets, bytesUp, bytesDown } = wire.count()
    await whileOpen?.()
    return { timeMs, bytesUp, bytesDown, sockets, serverCpuMs }
  } finally {
    await client.destroy()
  }
}

/** The subjects these scenarios run: each system's own SDK. */
export function sdkSubject(ctx: RunContext): SdkSubject {
  const subject = ctx.subject
  switch (subject) {
    case 'meridian':
    case 'y-websocket':
    case 'hocuspocus':
      return subject
    case 'raw':
    case 'meridian-tmpfs':
    case 'meridian-store':
    case 'y-indexeddb':
      throw new Error(`${subject}: not a subject of this scenario (it measures client SDKs)`)
  }
}

/** Resolves once `doc`'s Y.Text `text` reads `expected` (checked on every update). */
export function whenText(doc: Y.Doc, expected: string, timeoutMs: number, what: string): Promise<void> {
  const text = doc.getText('text')
  if (text.toString() === expected) return Promise.resolve()
  let listener: (() => void) | undefined
  const arrived = new Promise<void>((resolve) => {
    listener = () => {
      if (text.length === expected.length && text.toString() === expected) resolve()
    }
    doc.on('update', listener)
  })
  return withTimeout(arrived, timeoutMs, what).finally(() => {
    if (listener !== undefined) doc.off('update', listener)
  })
}
