/**
 * Reads of the change feed, over the storage's optional change-feed methods
 * (@meridian/storage change-feed.ts): a document's changes after a sequence
 * number, and the relay-wide log after an opaque cursor. Only what was asked
 * for is read: the snapshot is read only for a consumer whose cursor is behind
 * a compaction, which then gets one `snapshot` change (the state through
 * `snapshotSeq`) followed by the updates after it.
 *
 * Waiting (long-poll, SSE): a read that finds nothing sleeps until this relay
 * commits a change to the document (`wake`), the poll interval passes (changes
 * committed by other relays sharing the storage), or the wait ends. Every sleep
 * is a timer on the relay's clock; `close()` ends them all.
 */
import type { StorageAdapter } from '@meridian/storage'
import type { Clock, ClockTimer } from '@meridian/base'

export type ChangeKind = 'update' | 'snapshot'

/** The relay's own documents (`_meridian/revocations`...): never in a feed or a webhook. */
export const isInternalDoc = (doc: string): boolean => doc.startsWith('_meridian/')

export interface FeedChange {
  readonly kind: ChangeKind
  /** For a snapshot: the last sequence number it covers. */
  readonly seq: number
  readonly data: Uint8Array
}

export interface DocChangesPage {
  readonly doc: string
  readonly changes: readonly FeedChange[]
  /** Pass as `after` to read on: the last change's seq (the given cursor when there is none). */
  readonly cursor: number
  /** The last seq stored for the document (0: none). */
  readonly headSeq: number
  /**
   * The cursor was ahead of the document (it was deleted and created again, or
   * the cursor came from another region's relay): the page starts from 0.
   */
  readonly reset: boolean
}

export interface RelayFeedChange extends FeedChange {
  readonly doc: string
  /** The relay-wide cursor just after this change. */
  readonly cursor: string
}

export interface RelayChangesPage {
  readonly changes: readonly RelayFeedChange[]
  /** Pass as `after` to read on (null: from the start; unchanged when nothing new). */
  readonly cursor: string | null
}

export interface ChangeFeedOptions {
  storage: StorageAdapter
  clock: Clock
  /** How often a waiting reader looks at storage again (changes committed by other relays). */
  pollIntervalMs: number
}

interface Sleeper {
  readonly doc: string | null
  timer: ClockTimer
  wake(): void
}

export class ChangeFeed {
  private readonly sleepers = new Set<Sleeper>()
  private closed = false

  constructor(private readonly options: ChangeFeedOptions) {}

  /** Whether the storage has what the feed needs (per-document, relay-wide). */
  get supportsDocs(): boolean {
    return typeof this.options.storage.readChanges === 'function'
  }

  get supportsRelay(): boolean {
    return typeof this.options.storage.readChangeLog === 'function'
  }

  get isClosed(): boolean {
    return this.closed
  }

  async readDoc(doc: string, after: number, limit: number): Promise<DocChangesPage> {
    const read = this.options.storage.readChanges
    if (read === undefined) throw new Error('storage has no readChanges')
    let page = await read.call(this.options.storage, doc, after, limit)
    let reset = false
    if (after > 0 && (page === null || page.headSeq < after)) {
      reset = true
      page = await read.call(this.options.storage, doc, 0, limit)
    }
    if (page === null) return { doc, changes: [], cursor: reset ? 0 : after, headSeq: 0, reset }
    const changes: FeedChange[] = []
    if (page.snapshot !== null) changes.push({ kind: 'snapshot', seq: page.snapshot.seq, data: page.snapshot.data })
    for (const u of page.updates) changes.push({ kind: 'update', seq: u.seq, data: u.data })
    return { doc, changes, cursor: changes.at(-1)?.seq ?? (reset ? 0 : after), headSeq: page.headSeq, reset }
  }

  async readRelay(after: string | null, limit: number): Promise<RelayChangesPage> {
    const { storage } = this.options
    if (storage.readChangeLog === undefined || storage.readChanges === undefined) throw new Error('storage has no readChangeLog')
    const entries = await storage.readChangeLog(after, limit)
    const changes: RelayFeedChange[] = []
    // A snapshot covers later entries of its document in this page: those are skipped.
    const covered = new Map<string, number>()
    for (const e of entries) {
      if (isInternalDoc(e.doc) || e.seq <= (covered.get(e.doc) ?? 0)) continue
      if (e.data !== null) {
        changes.push({ kind: 'update', doc: e.doc, seq: e.seq, data: e.data, cursor: e.cursor })
        continue
      }
      const page = await storage.readChanges(e.doc, e.seq - 1, 0)
      // Removed meanwhile, or nothing folded after all: nothing to hand out for this entry.
      if (page === null || page.snapshot === null) continue
      covered.set(e.doc, page.snapshot.seq)
      changes.push({ kind: 'snapshot', doc: e.doc, seq: page.snapshot.seq, data: page.snapshot.data, cursor: e.cursor })
    }
    return { changes, cursor: entries.at(-1)?.cursor ?? after }
  }

  /** Long-poll: reads until there is something, `waitMs` passes or the feed closes. */
  async waitDoc(doc: string, after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<DocChangesPage> {
    return this.waitFor(doc, waitMs, signal, () => this.readDoc(doc, after, limit), (p) => p.changes.length > 0 || p.reset)
  }

  async waitRelay(after: string | null, limit: number, waitMs: number, signal?: AbortSignal): Promise<RelayChangesPage> {
    return this.waitFor(null, waitMs, signal, () => this.readRelay(after, limit), (p) => p.cursor !== after)
  }

  /** A change to `doc` was committed by this relay: wake its readers (and the relay-wide ones). */
  wake(doc: string): void {
    for (const s of [...this.sleepers]) if (s.doc === null || s.doc === doc) s.wake()
  }

  /** Ends every wait (the relay is closing). */
  close(): void {
    this.closed = true
    for (const s of [...this.sleepers]) s.wake()
  }

  /** Resolves after `ms`, on a wake for `doc` (null: any), on abort or on close. */
  sleep(doc: string | null, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted === true || ms <= 0) return Promise.resolve()
    const { clock } = this.options
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        doc,
        timer: null,
        wake: () => {
          clock.clearTimeout(sleeper.timer)
          this.sleepers.delete(sleeper)
          signal?.removeEventListener('abort', sleeper.wake)
          resolve()
        }
      }
      sleeper.timer = clock.setTimeout(sleeper.wake, ms)
      signal?.addEventListener('abort', sleeper.wake, { once: true })
      this.sleepers.add(sleeper)
    })
  }

  private async waitFor<P>(doc: string | null, waitMs: number, signal: AbortSignal | undefined, read: () => Promise<P>, found: (page: P) => boolean): Promise<P> {
    const { clock, pollIntervalMs } = this.options
    const deadline = clock.now() + waitMs
    // Bounded: every round sleeps until the deadline comes closer, or something woke it.
    for (;;) {
      const page = await read()
      const left = deadline - clock.now()
      if (found(page) || left <= 0 || this.closed || signal?.aborted === true) return page
      await this.sleep(doc, Math.min(left, pollIntervalMs), signal)
    }
  }
}
