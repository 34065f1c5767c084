/**
 * The relay's version operations on a document and its history document
 * (`_meridian/history/<name>`, @meridian/history): every change goes through
 * the rooms (`Room.transact` with a `server` source), so it is stored,
 * broadcast to the history document's clients, pushed to other regions and
 * merged like any write.
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { Clock } from '@meridian/base'
import {
  HistoryError, appendVersion, captureVersion, expiredVersions, historyDocName, listVersions, openVersion, restoreVersion, versionsMap,
  type RetentionOptions, type VersionKind, type VersionMeta
} from '@meridian/history'
import { HTTP_STATUS } from '../docs/http-errors.js'
import { RelayError } from '../errors.js'
import type { Room } from '../room.js'
import type { RoomManager } from '../rooms.js'
import type { ServerSource } from '../change-source.js'

export interface HistoryServiceDeps {
  rooms: RoomManager
  clock: Clock
  logger: Logger
  nodeId: string
  retention: RetentionOptions
  /** Whether writes to `docName` are refused here now (home region unreachable: doc-modes.ts). */
  isReadOnly: (docName: string) => boolean
}

export class HistoryService {
  constructor(private readonly d: HistoryServiceDeps) {}

  private async withRoom<T>(name: string, fn: (room: Room) => Promise<T> | T): Promise<T> {
    const room = await this.d.rooms.acquire(name)
    try {
      return await fn(room)
    } finally {
      this.d.rooms.release(room)
    }
  }

  /** Versions of `docName`, oldest first. */
  list(docName: string): Promise<VersionMeta[]> {
    return this.withRoom(historyDocName(docName), (history) => listVersions(history.doc))
  }

  /**
   * Takes a version of the document as this relay holds it now, applies
   * retention, and resolves once both are committed here. `created` is false
   * when an automatic version of the same state existed already; `trackedSeq`
   * is the number the mesh tracks the history document's change by (null:
   * untracked), for its durability (reachedDurability of docs/doc-write.ts).
   */
  create(docName: string, options: { kind: VersionKind; label?: string; author: string; actor: string }): Promise<{ version: VersionMeta; created: boolean; trackedSeq: number | null }> {
    return this.withRoom(docName, (live) => this.withRoom(historyDocName(docName), async (history) => {
      const record = captureVersion(live.doc, { kind: options.kind, label: options.label ?? '', author: options.author, nowMs: this.d.clock.now() })
      let created = false
      const tracked = new Tracked()
      await history.transact((doc) => {
        created = appendVersion(doc, record)
        this.retain(doc)
      }, this.source(options.actor, tracked))
      const { stateV2: _state, ...version } = record
      return { version, created, trackedSeq: tracked.seq }
    }))
  }

  /** The document at version `id`, as a fresh Y.Doc (the caller destroys it). Throws HistoryError ERR_VERSION_NOT_FOUND. */
  open(docName: string, id: string): Promise<Y.Doc> {
    return this.withRoom(historyDocName(docName), (history) => openVersion(history.doc, id))
  }

  /** A copy of the document as this relay holds it now. */
  current(docName: string): Promise<Y.Doc> {
    return this.withRoom(docName, (live) => {
      const copy = new Y.Doc()
      Y.applyUpdateV2(copy, Y.encodeStateAsUpdateV2(live.doc))
      return copy
    })
  }

  /**
   * Restores version `id` as one forward change of the document (restore.ts
   * of @meridian/history), after taking a `pre-restore` version of it.
   * Refused with ERR_DOC_READ_ONLY like any write when the document is
   * read-only here. `trackedSeqs`: the mesh's numbers of the pre-restore
   * version and of the restore (null: untracked, e.g. a restore that changed nothing).
   */
  restore(docName: string, id: string, actor: string): Promise<{ preRestore: VersionMeta; trackedSeqs: { preRestore: number | null; restore: number | null } }> {
    if (this.d.isReadOnly(docName)) return Promise.reject(new RelayError('ERR_DOC_READ_ONLY', docName))
    return this.withRoom(docName, (live) => this.withRoom(historyDocName(docName), async (history) => {
      const version = openVersion(history.doc, id)
      try {
        const before = captureVersion(live.doc, { kind: 'pre-restore', label: `before restoring ${id}`, author: actor, nowMs: this.d.clock.now() })
        const savedSeq = new Tracked()
        const restoredSeq = new Tracked()
        const saved = history.transact((doc) => {
          appendVersion(doc, before)
          this.retain(doc)
        }, this.source(actor, savedSeq))
        // Run as a promise: a throw inside the edit must not leave `saved`'s rejection unobserved.
        const restored = Promise.resolve().then(() => live.transact((doc) => restoreVersion(doc, version), this.source(actor, restoredSeq)))
        await Promise.all([saved, restored])
        this.d.logger.info({ doc: docName, version: id, actor }, 'version restored')
        const { stateV2: _state, ...preRestore } = before
        return { preRestore, trackedSeqs: { preRestore: savedSeq.seq, restore: restoredSeq.seq } }
      } finally {
        version.destroy()
      }
    }))
  }

  /** Applies retention to `docName`'s history now; resolves with how many versions it removed. */
  applyRetention(docName: string): Promise<number> {
    return this.withRoom(historyDocName(docName), async (history) => {
      let removed = 0
      if (expiredVersions(listVersions(history.doc), this.d.clock.now(), this.d.retention).length === 0) return 0
      await history.transact((doc) => {
        removed = this.retain(doc)
      }, this.source('retention'))
      return removed
    })
  }

  /** Inside a history room's transaction: removes what retention says (see retention.ts). */
  private retain(doc: Y.Doc): number {
    const expired = expiredVersions(listVersions(doc), this.d.clock.now(), this.d.retention)
    const map = versionsMap(doc)
    for (const id of expired) map.delete(id)
    return expired.length
  }

  private source(actor: string, tracked?: Tracked): ServerSource {
    return { kind: 'server', actor: `history:${actor}`, ...(tracked !== undefined ? { tracked: tracked.note } : {}) }
  }
}

/** The number the mesh gave a server change for replication tracking (ServerSource.tracked), once it did. */
class Tracked {
  seq: number | null = null
  readonly note = (seq: number): void => {
    this.seq = seq
  }
}

/** HTTP status for a failed version operation, by code. */
export function historyFailureStatus(err: unknown): { status: number; code: string; message: string } {
  if (HistoryError.is(err)) {
    switch (err.code) {
      case 'ERR_VERSION_NOT_FOUND':
        return { status: 404, code: err.code, message: err.message }
      case 'ERR_VERSION_INVALID':
      case 'ERR_HISTORY_DOC_NAME':
      case 'ERR_HISTORY_OPTIONS':
        return { status: 422, code: err.code, message: err.message }
    }
  }
  // The document API's statuses (docs/http-errors.ts): one answer per relay code across /v1/docs.
  if (RelayError.is(err)) return { status: HTTP_STATUS[err.code], code: err.code, message: err.message }
  return { status: 500, code: 'ERR_INTERNAL', message: 'the version operation failed' }
}
