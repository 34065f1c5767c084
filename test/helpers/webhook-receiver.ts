/**
 * A webhook receiver for tests: a local HTTP server (port 0) that verifies
 * each delivery with the README snippet, records it, and can go down (its
 * port closed) and come back on the same port. It notes when deliveries from
 * two different relays were in flight at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import type { VerifyWebhook } from './webhook-verify.js'

export interface ReceivedDelivery {
  doc: string
  from: number
  to: number
  nodeId: string
  region: string
  deliveryId: string
  changes: { kind: 'update' | 'snapshot'; seq: number; data: string }[]
}

export interface WebhookReceiver {
  readonly url: string
  readonly deliveries: ReceivedDelivery[]
  /** Requests whose signature did not verify (answered 401). */
  readonly rejected: number
  /** Times deliveries from two different relays were in flight together. */
  readonly overlaps: number
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
  /** Polls (bounded) until `done()` holds; rejects after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void>
}

export async function startWebhookReceiver(options: { secret: string; verify: VerifyWebhook; delayMs?: number }): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = []
  let rejected = 0
  let overlaps = 0
  const inFlight = new Map<string, number>()
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      if (!options.verify(options.secret, raw, req.headers as Record<string, string | undefined>)) {
        rejected++
        res.writeHead(401).end()
        return
      }
      const body = JSON.parse(raw) as ReceivedDelivery
      inFlight.set(body.nodeId, (inFlight.get(body.nodeId) ?? 0) + 1)
      if (inFlight.size > 1) overlaps++
      const finish = (): void => {
        const n = (inFlight.get(body.nodeId) ?? 1) - 1
        if (n === 0) inFlight.delete(body.nodeId)
        else inFlight.set(body.nodeId, n)
        deliveries.push(body)
        res.writeHead(204).end()
      }
      if (options.delayMs === undefined) finish()
      else setTimeout(finish, options.delayMs)
    })
  }
  let server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const stop = async (): Promise<void> => {
    if (!server.listening) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    get rejected() {
      return rejected
    },
    get overlaps() {
      return overlaps
    },
    down: stop,
    async up() {
      server = createServer(handler)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => resolve())
      })
    },
    close: stop,
    async waitFor(done, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}

/**
 * Per document, in arrival order: the first delivery starts at 0 and each one
 * starts at or before the furthest cursor delivered so far (no gap; a repeat
 * after a crash is allowed), changes ascend within a delivery. Returns the
 * document each one's changes build.
 */
export function checkDeliveries(deliveries: readonly ReceivedDelivery[]): { docs: Map<string, Y.Doc>; gaps: string[]; maxTo: Map<string, number> } {
  const docs = new Map<string, Y.Doc>()
  const maxTo = new Map<string, number>()
  const gaps: string[] = []
  for (const d of deliveries) {
    const reached = maxTo.get(d.doc) ?? 0
    if (d.from > reached) gaps.push(`${d.doc}: delivery ${d.from}-${d.to} after only ${reached} was delivered`)
    const seqs = d.changes.map((c) => c.seq)
    if (seqs.some((s, i) => i > 0 && s <= (seqs[i - 1] as number))) gaps.push(`${d.doc}: changes out of order in ${d.deliveryId}`)
    let doc = docs.get(d.doc)
    if (doc === undefined) docs.set(d.doc, (doc = new Y.Doc()))
    for (const c of d.changes) Y.applyUpdate(doc, Buffer.from(c.data, 'base64'))
    maxTo.set(d.doc, Math.max(reached, d.to))
  }
  return { docs, gaps, maxTo }
}
