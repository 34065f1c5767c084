/**
 * The entries of a document stream (see redis-bus.ts for the format) and
 * what reading them means for one subscription: each is delivered to its
 * handlers, and gaps in a publisher's numbering or a peer's failed publish
 * call for a resync.
 */
import type { BusMessageHandler, BusResyncEvent, ReceivedBusMessage } from './types.js'

export const FIELD = { origin: 'o', epoch: 'i', number: 'n', kind: 'k', data: 'd' } as const

/** Publisher epochs remembered per document for gap detection (oldest forgotten first). */
const MAX_PUBLISHERS_PER_DOC = 64

export interface Subscription {
  readonly docName: string
  readonly key: string
  readonly handlers: Set<BusMessageHandler>
  /** Id of the last entry read (or the stream's tail at subscription); null: unknown — fetch the tail, then resync. */
  cursor: string | null
  /** True while `subscribe` takes the stream's tail itself: the read loop leaves it alone meanwhile. */
  settingUp: boolean
  /** Per publisher epoch, the last update number seen: a jump means entries were trimmed unread. */
  readonly publishers: Map<string, number>
}

interface Entry {
  origin: string
  epoch: string
  number: number
  kind: string
  data: Buffer
}

export function parseEntry(fields: Buffer[]): Entry | null {
  const values = new Map<string, Buffer>()
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]
    const value = fields[i + 1]
    if (name !== undefined && value !== undefined) values.set(String(name), value)
  }
  const origin = values.get(FIELD.origin)
  const epoch = values.get(FIELD.epoch)
  const number = Number(String(values.get(FIELD.number) ?? ''))
  const kind = values.get(FIELD.kind)
  const data = values.get(FIELD.data)
  if (origin === undefined || epoch === undefined || kind === undefined || data === undefined || !Number.isSafeInteger(number)) return null
  return { origin: String(origin), epoch: String(epoch), number, kind: String(kind), data }
}


/** What reading a batch of one stream's entries asks of the bus. */
export interface StreamReading {
  /** Our own incarnation: entries whose epoch starts with it are our own publishes (skipped). */
  readonly incarnation: string
  needResync(docName: string, reason: BusResyncEvent['reason']): void
  reportError(err: unknown): void
}

/** Reads a batch of `sub`'s stream (id, fields), advancing its cursor and delivering to its handlers. */
export function readStream(sub: Subscription, entries: readonly [Buffer, Buffer[]][], reading: StreamReading): void {
  for (const [id, fields] of entries) {
    sub.cursor = String(id)
    const entry = parseEntry(fields)
    if (entry === null) {
      reading.reportError(new Error(`malformed bus entry ${String(id)} in ${sub.key}`))
      continue
    }
    if (entry.epoch.startsWith(`${reading.incarnation}.`)) continue // our own
    if (entry.kind === 'resync') {
      reading.needResync(sub.docName, 'peer-publish-failed')
      continue
    }
    if (entry.kind === 'update') {
      if (notePublisher(sub.publishers, entry.epoch, entry.number)) reading.needResync(sub.docName, 'gap')
    } else if (entry.kind !== 'awareness') {
      continue // a kind from a newer version: skip it
    }
    const message: ReceivedBusMessage = { kind: entry.kind, data: new Uint8Array(entry.data), origin: entry.origin }
    for (const handler of [...sub.handlers]) {
      try {
        handler(message)
      } catch (err) {
        reading.reportError(err)
      }
    }
  }
}

/** Records update `number` of publisher `epoch`; true when numbers were skipped (entries trimmed unread). */
export function notePublisher(publishers: Map<string, number>, epoch: string, number: number): boolean {
  const last = publishers.get(epoch)
  if (last === undefined || number > last) {
    publishers.delete(epoch) // re-insert: Map order is recency
    publishers.set(epoch, number)
    if (publishers.size > MAX_PUBLISHERS_PER_DOC) {
      const oldest = publishers.keys().next().value
      if (oldest !== undefined) publishers.delete(oldest)
    }
  }
  return last !== undefined && number > last + 1
}
