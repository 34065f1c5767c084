import type { Logger } from 'pino'
import type { Clock, ClockTimer } from '@meridian/base'
import * as Y from 'yjs'
import type { MeshMessage } from '@meridian/protocol'
import { docFromStored, type StorageAdapter } from '@meridian/storage'
import type { RoomManager } from '../rooms.js'
import type { Room } from '../room.js'
import { DocSizeGuard } from '../limits.js'
import { applyWithinLimits } from '../guarded-apply.js'
import { DigestIndex, docDigest, isTombstoneDigest, tombstoneDigest } from './digest-index.js'
import type { MeshLink } from './link.js'
import type { ReplicationTracker } from './replication.js'

/** Entries per AE_DOCS page, so a listing of many documents is never one giant frame. */
const DOCS_PER_PAGE = 1_000
/** Documents requested at once per round (their diffs are small, typically: one chunk each). */
const MAX_DOCS_IN_FLIGHT = 16
/**
 * A diff is buffered whole until its last chunk (Yjs cannot apply part of an
 * update). A round buffers at most this many × `maxDiffBytes`: past it, the
 * diff that grew too far is dropped and its document pulled again later, alone.
 */
const ROUND_BUFFER_DIFFS = 2

export interface AntiEntropyOptions {
  rooms: RoomManager
  storage: StorageAdapter
  digests: DigestIndex
  tracker: ReplicationTracker
  logger: Logger
  /** Largest DOC_DIFF chunk. */
  chunkBytes: number
  /** A round not finished after this long is abandoned. */
  roundTimeoutMs: number
  /** A round that heard nothing from its peer for this long is abandoned (its messages were lost). */
  roundIdleMs: number
  /** Largest document diff accepted in a round; a larger one is skipped (the document, not the round). */
  maxDiffBytes: number
  /** The document size limit: a pulled diff that would pass it is skipped, as a client write would be refused. */
  maxDocumentBytes: number
  clock: Clock
  /**
   * A round with `link`'s relay completed. With `skipped` 0, everything it had
   * when the round started is here now; otherwise that many documents could not
   * be pulled (too large, not loadable, not applicable) and the rest were.
   */
  onRoundComplete: (link: MeshLink, startedAtMs: number, skipped: number) => void
  /** Whether the document was deleted here (its digest is then the tombstone's); default never. */
  isDeleted?: (docName: string) => Promise<boolean>
  /** A peer listed a document as deleted that this relay does not know as deleted: delete it here too. */
  onRemoteTombstone?: (docName: string, region: string) => void
}

interface Round {
  id: number
  link: MeshLink
  startedAtMs: number
  listingDone: boolean
  queue: string[]
  /** Documents dropped for the round's buffer budget: pulled again one at a time, once nothing else is in flight. */
  serial: string[]
  /** Documents whose remaining chunks (up to index `count - 1`) are to be dropped. */
  draining: Set<string>
  inFlight: Map<string, { chunks: Uint8Array[]; received: number; bytes: number }>
  /** Documents given up on in this round; their late chunks are dropped. */
  skipped: Set<string>
  timer: ClockTimer
  idle: ClockTimer
}

/**
 * Pull-based anti-entropy. The initiator sends its digest root; equal roots
 * end the round (an idle mesh: a few dozen bytes). Otherwise bucket hashes,
 * then the documents of differing buckets, then a state-vector sync of each
 * differing document, streamed in bounded chunks. The round completes when
 * every pulled diff is committed here.
 */
export class AntiEntropy {
  private readonly o: AntiEntropyOptions
  private readonly rounds = new Map<MeshLink, Round>()
  /** Per served document and region: the last local write sequence included in what was served. */
  private readonly served = new Map<string, number>()
  private nextRound = 1
  private refreshing: Promise<void> | null = null
  private pendingPass: Promise<void> | null = null
  private readonly docSize: DocSizeGuard
  /** Since start: documents skipped in a round, and diffs dropped for the round buffer budget (pulled again). */
  readonly counters = { skippedDocs: 0, repulledDocs: 0 }

  constructor(options: AntiEntropyOptions) {
    this.o = options
    this.docSize = new DocSizeGuard(options.maxDocumentBytes)
  }

  isRunning(link: MeshLink): boolean {
    return this.rounds.has(link)
  }

  /**
   * Recomputes the digests of documents changed before this call. One pass
   * over what is dirty when the pass starts: under steady writes, a loop until
   * nothing is dirty would never end (and hold every round). A pass already
   * running took its list before this call, so a new one is chained after it;
   * callers share a pass that has not started yet. A digest changed again
   * after its pass is safe to compare: it can equal the peer's only if the peer
   * holds no more than this relay held, so nothing is left unpulled.
   */
  refresh(): Promise<void> {
    if (this.pendingPass !== null) return this.pendingPass
    if (this.refreshing === null && this.o.digests.dirtyCount === 0) return Promise.resolve()
    const previous = this.refreshing ?? Promise.resolve()
    const pass: Promise<void> = previous.then(async () => {
      if (this.pendingPass === pass) this.pendingPass = null
      this.refreshing = pass
      for (const name of this.o.digests.takeDirty()) {
        try {
          this.o.digests.set(name, await this.computeDigest(name))
        } catch (err) {
          // Left out of this round's summary; the next change or restart retries it.
          this.o.logger.warn({ err, doc: name }, 'anti-entropy: cannot compute document digest')
        }
      }
    }).finally(() => {
      if (this.refreshing === pass) this.refreshing = null
    })
    this.pendingPass = pass
    return pass
  }

  async start(link: MeshLink): Promise<void> {
    if (this.rounds.has(link) || !link.isOpen) return
    const startedAtMs = this.o.clock.now()
    const round: Round = {
      id: this.nextRound++,
      link,
      startedAtMs,
      listingDone: false,
      queue: [],
      serial: [],
      draining: new Set(),
      inFlight: new Map(),
      skipped: new Set(),
      timer: this.o.clock.setTimeout(() => this.abort(link, 'timed out'), this.o.roundTimeoutMs),
      idle: this.o.clock.setTimeout(() => this.abort(link, 'peer silent'), this.o.roundIdleMs)
    }
    this.rounds.set(link, round)
    await this.refresh()
    if (this.rounds.get(link) !== round) return
    link.send({ type: 'mesh-ae-root', round: round.id, root: this.o.digests.root() })
  }

  abort(link: MeshLink, why: string): void {
    const round = this.rounds.get(link)
    if (round === undefined) return
    this.o.clock.clearTimeout(round.timer)
    this.o.clock.clearTimeout(round.idle)
    this.rounds.delete(link)
    this.o.logger.debug({ peer: link.remote?.nodeId, round: round.id, why }, 'anti-entropy round abandoned')
  }

  /** Handles the anti-entropy messages of a link; returns false for other messages. */
  handle(link: MeshLink, m: MeshMessage): boolean {
    switch (m.type) {
      case 'mesh-ae-root':
        void this.answerRoot(link, m.round, m.root)
        return true
      case 'mesh-ae-docs-request':
        this.answerDocsRequest(link, m.round, m.buckets)
        return true
      case 'mesh-doc-sync':
        void this.answerDocSync(link, m.round, m.docName, m.stateVector)
        return true
      case 'mesh-doc-applied': {
        const region = link.remote?.region
        if (region !== undefined) {
          this.o.tracker.confirm(m.docName, region, m.stateVector, { throughSeq: this.served.get(`${region}\0${m.docName}`) ?? 0 })
        }
        return true
      }
      case 'mesh-ae-done':
      case 'mesh-ae-buckets':
      case 'mesh-ae-docs':
      case 'mesh-doc-unavailable':
      case 'mesh-doc-diff': {
        const round = this.rounds.get(link)
        if (round === undefined || round.id !== m.round) return true // a stale round's late answer
        // Restart the silence timer: the peer is still answering.
        this.o.clock.clearTimeout(round.idle)
        round.idle = this.o.clock.setTimeout(() => this.abort(link, 'peer silent'), this.o.roundIdleMs)
        if (m.type === 'mesh-ae-done') {
          if (m.ok) this.complete(round)
          else this.abort(link, 'responder gave up')
        } else if (m.type === 'mesh-ae-buckets') {
          const buckets = this.o.digests.differingBuckets(m.hashes)
          if (buckets.length === 0) this.complete(round)
          else link.send({ type: 'mesh-ae-docs-request', round: round.id, buckets })
        } else if (m.type === 'mesh-ae-docs') {
          for (const e of m.entries) {
            const mine = this.o.digests.digestOf(e.docName)
            if (mine !== null && Buffer.compare(mine, e.digest) === 0) continue
            // A deletion wins over content: never pulled back, and the peer's deletion is taken as ours.
            if (mine !== null && isTombstoneDigest(e.docName, mine)) continue
            if (isTombstoneDigest(e.docName, e.digest)) {
              this.o.onRemoteTombstone?.(e.docName, round.link.remote?.region ?? '')
              continue
            }
            round.queue.push(e.docName)
          }
          round.listingDone = m.last
          void this.pump(round)
        } else if (m.type === 'mesh-doc-unavailable') {
          if (round.inFlight.has(m.docName)) void this.skip(round, m.docName, 'peer cannot serve it')
        } else {
          void this.receiveChunk(round, m)
        }
        return true
      }
      default:
        return false
    }
  }

  private async answerRoot(link: MeshLink, round: number, root: Uint8Array): Promise<void> {
    await this.refresh()
    if (Buffer.compare(this.o.digests.root(), root) === 0) link.send({ type: 'mesh-ae-done', round, ok: true })
    else link.send({ type: 'mesh-ae-buckets', round, hashes: this.o.digests.bucketHashes() })
  }

  private answerDocsRequest(link: MeshLink, round: number, buckets: number[]): void {
    const entries = this.o.digests.docsIn(buckets)
    for (let i = 0; i < entries.length || i === 0; i += DOCS_PER_PAGE) {
      const page = entries.slice(i, i + DOCS_PER_PAGE)
      link.send({ type: 'mesh-ae-docs', round, entries: page, last: i + DOCS_PER_PAGE >= entries.length })
    }
  }

  private async answerDocSync(link: MeshLink, round: number, docName: string, stateVector: Uint8Array): Promise<void> {
    const region = link.remote?.region
    let diff: Uint8Array
    const throughSeq = this.o.tracker.lastSeq
    try {
      const room = await this.o.rooms.acquire(docName)
      try {
        diff = Y.encodeStateAsUpdate(room.doc, stateVector)
      } finally {
        this.o.rooms.release(room)
      }
    } catch (err) {
      // The puller skips this one document and carries on with the rest of its round.
      this.o.logger.warn({ err, doc: docName }, 'anti-entropy: cannot serve document')
      link.send({ type: 'mesh-doc-unavailable', round, docName })
      return
    }
    if (region !== undefined) this.served.set(`${region}\0${docName}`, throughSeq)
    const size = this.o.chunkBytes
    const count = Math.max(1, Math.ceil(diff.byteLength / size))
    for (let index = 0; index < count; index++) {
      link.send({ type: 'mesh-doc-diff', round, docName, index, count, data: diff.subarray(index * size, (index + 1) * size) })
    }
  }

  /** Requests queued documents, a bounded number at a time. */
  private async pump(round: Round): Promise<void> {
    for (;;) {
      let docName: string
      if (round.inFlight.size < MAX_DOCS_IN_FLIGHT && round.queue.length > 0) docName = round.queue.shift() as string
      else if (round.inFlight.size === 0 && round.queue.length === 0 && round.serial.length > 0) docName = round.serial.shift() as string
      else break
      if (round.inFlight.has(docName)) continue
      round.inFlight.set(docName, { chunks: [], received: 0, bytes: 0 })
      let stateVector: Uint8Array
      try {
        const room = await this.o.rooms.acquire(docName)
        stateVector = Y.encodeStateVector(room.doc)
        this.o.rooms.release(room)
      } catch (err) {
        this.o.logger.warn({ err, doc: docName }, 'anti-entropy: cannot load document to pull into')
        round.inFlight.delete(docName)
        round.skipped.add(docName)
        this.counters.skippedDocs++
        continue
      }
      if (this.rounds.get(round.link) !== round) return
      round.link.send({ type: 'mesh-doc-sync', round: round.id, docName, stateVector })
    }
    if (round.listingDone && round.queue.length === 0 && round.serial.length === 0 && round.inFlight.size === 0) this.complete(round)
  }

  /** Gives up on one document of a round (logged), and carries on with the others. */
  private async skip(round: Round, docName: string, why: string): Promise<void> {
    this.o.logger.warn({ peer: round.link.remote?.nodeId, doc: docName, why }, 'anti-entropy: document skipped this round')
    round.inFlight.delete(docName)
    round.skipped.add(docName)
    this.counters.skippedDocs++
    if (this.rounds.get(round.link) === round) await this.pump(round)
  }

  private async receiveChunk(round: Round, m: Extract<MeshMessage, { type: 'mesh-doc-diff' }>): Promise<void> {
    if (round.skipped.has(m.docName)) return
    if (round.draining.has(m.docName)) {
      // The rest of a dropped diff; the pull that replaces it is answered after it on this ordered link.
      if (m.index === m.count - 1) round.draining.delete(m.docName)
      return
    }
    const slot = round.inFlight.get(m.docName)
    if (slot === undefined || m.index !== slot.received) {
      this.abort(round.link, 'unexpected diff chunk')
      return
    }
    slot.chunks.push(m.data)
    slot.received++
    slot.bytes += m.data.byteLength
    // Checked as chunks arrive: an oversized diff is never buffered past the limit.
    if (slot.bytes > this.o.maxDiffBytes) {
      slot.chunks = []
      await this.skip(round, m.docName, `diff larger than ${this.o.maxDiffBytes} bytes`)
      return
    }
    if (slot.received < m.count && round.inFlight.size > 1) {
      let buffered = 0
      for (const s of round.inFlight.values()) buffered += s.bytes
      if (buffered > ROUND_BUFFER_DIFFS * this.o.maxDiffBytes) {
        slot.chunks = []
        round.inFlight.delete(m.docName)
        round.draining.add(m.docName)
        round.serial.push(m.docName)
        this.counters.repulledDocs++
        return
      }
    }
    if (slot.received < m.count) return
    const update = Buffer.concat(slot.chunks)
    slot.chunks = []
    let room: Room
    try {
      room = await this.o.rooms.acquire(m.docName)
    } catch (err) {
      await this.skip(round, m.docName, `cannot load: ${(err as Error).message}`)
      return
    }
    try {
      const result = applyWithinLimits(room, new Uint8Array(update.buffer, update.byteOffset, update.byteLength), { kind: 'anti-entropy', region: round.link.remote?.region ?? '' }, this.docSize)
      if (result.kind === 'too-large') {
        await this.skip(round, m.docName, `would pass the document size limit (${this.o.maxDocumentBytes} bytes)`)
        return
      }
      // 'missing-deps': structs whose dependencies the serving relay lacks too stay out, as for a client's write.
      await result.committed
      round.link.send({ type: 'mesh-doc-applied', docName: m.docName, stateVector: Y.encodeStateVector(room.doc) })
    } catch (err) {
      await this.skip(round, m.docName, `not applied: ${(err as Error).message}`)
      return
    } finally {
      this.o.rooms.release(room)
    }
    round.inFlight.delete(m.docName)
    if (this.rounds.get(round.link) === round) await this.pump(round)
  }

  private complete(round: Round): void {
    if (this.rounds.get(round.link) !== round) return
    this.o.clock.clearTimeout(round.timer)
    this.o.clock.clearTimeout(round.idle)
    this.rounds.delete(round.link)
    this.o.onRoundComplete(round.link, round.startedAtMs, round.skipped.size)
  }

  private async computeDigest(docName: string): Promise<Uint8Array | null> {
    // A loaded room is not deleted here (a deletion takes it out of memory first): no storage read on the write path.
    const room = this.o.rooms.getLoaded(docName)
    if (room !== undefined) return docDigest(room.doc)
    if (this.o.isDeleted !== undefined && (await this.o.isDeleted(docName))) return tombstoneDigest(docName)
    const stored = await this.o.storage.load(docName)
    if (stored === null) return null
    const doc = docFromStored(stored)
    try {
      return docDigest(doc)
    } finally {
      doc.destroy()
    }
  }
}
