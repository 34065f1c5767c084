/**
 * The SDK side: versions of a live document through the app's provider. The
 * history document is opened with a second provider (the app's own options,
 * on `_meridian/history/<docName>`, so the same relay, token and policy
 * apply); the live document and its local copy are never touched except by
 * `restore`, which is one forward change through the live provider (refused
 * with its ERR_READ_ONLY when the document is read-only, like any write).
 *
 * Providers are described structurally so this package needs no dependency
 * on @meridian/client: a `MeridianProvider` fits.
 */
import * as Y from 'yjs'
import { diffVersions, type VersionDiff } from './diff.js'
import { HistoryError } from './errors.js'
import { historyDocName } from './names.js'
import { restoreVersion } from './restore.js'
import type { RootHints } from './root-kinds.js'
import { appendVersion, captureVersion, listVersions, openVersion, readVersion, type VersionKind, type VersionMeta, type VersionRecord } from './version.js'

export interface HistoryProvider {
  readonly doc: Y.Doc
  readonly docName: string
  /** Runs `fn` in one transaction; throws (ERR_READ_ONLY for a MeridianProvider) when writing is refused. */
  transact<T>(fn: (doc: Y.Doc) => T): T
  whenSynced(options?: { timeoutMs?: number }): Promise<void>
  destroy(): void | Promise<void>
}

export interface VersionHistoryOptions<P extends HistoryProvider = HistoryProvider> {
  /** The app's provider of the live document. */
  live: HistoryProvider
  /**
   * Opens the history document: the app's provider options with this doc and
   * name, e.g. `(doc, docName) => new MeridianProvider({ ...options, doc, docName })`.
   * Called once, with `_meridian/history/<live docName>`.
   */
  connect: (doc: Y.Doc, docName: string) => P
  /** Stored as the author of versions taken here (e.g. the user id). Default ''. */
  author?: string
  /** Time of new versions; default Date.now. */
  now?: () => number
  /** Root kinds of the app's documents (skips inference, see root-kinds.ts). */
  hints?: RootHints
}

/** Origin of the restore transaction on the live document (apps may tell it from their own edits). */
export const RESTORE_ORIGIN = Symbol('meridian-history-restore')

/** `P`: the history document's provider type (a `MeridianProvider`, for its `whenDurable`). */
export class VersionHistory<P extends HistoryProvider = HistoryProvider> {
  readonly live: HistoryProvider
  readonly history: P
  private readonly options: VersionHistoryOptions<P>

  constructor(options: VersionHistoryOptions<P>) {
    this.options = options
    this.live = options.live
    this.history = options.connect(new Y.Doc(), historyDocName(options.live.docName))
  }

  /** Resolves once the history document is synced with the relay (the list is then complete as far as the relay knows). */
  whenSynced(options?: { timeoutMs?: number }): Promise<void> {
    return this.history.whenSynced(options)
  }

  /** Versions, oldest first. */
  list(): VersionMeta[] {
    return listVersions(this.history.doc)
  }

  /**
   * Takes a version of the live document as it is here now. `update` is what
   * the history document emitted (null when an automatic version of this
   * state was there already): pass it to the history provider's
   * `whenDurable(update, { replicated: k })` to know the version is safe.
   */
  createVersion(label: string, kind: VersionKind = 'named'): { version: VersionMeta; update: Uint8Array | null } {
    const record = captureVersion(this.live.doc, { kind, label, author: this.options.author ?? '', nowMs: this.now() })
    const update = this.appendRecord(record)
    const { stateV2: _state, ...version } = readVersion(this.history.doc, record.id) ?? record
    return { version, update }
  }

  /** Appends through the history provider (its write gate applies); returns the update it emitted, if any. */
  private appendRecord(record: VersionRecord): Uint8Array | null {
    let update: Uint8Array | null = null
    const onUpdate = (u: Uint8Array): void => {
      update = u
    }
    this.history.doc.on('update', onUpdate)
    try {
      this.history.transact((doc) => appendVersion(doc, record))
    } finally {
      this.history.doc.off('update', onUpdate)
    }
    return update
  }

  /** The document at version `id`: a fresh, detached Y.Doc (ERR_VERSION_NOT_FOUND when unknown). */
  open(id: string): Y.Doc {
    return openVersion(this.history.doc, id)
  }

  /** Changes from version `older` to version `newer` or to the live document now. */
  diff(older: string, newer: string | 'now'): VersionDiff {
    const a = this.open(older)
    // A copy of the live document: the diff defines root types, which must not happen on the app's document.
    const b = newer === 'now' ? copyOf(this.live.doc) : this.open(newer)
    try {
      return diffVersions(a, b, this.options.hints === undefined ? undefined : { hints: this.options.hints })
    } finally {
      a.destroy()
      b.destroy()
    }
  }

  /**
   * Makes the live document equal to version `id` by one forward change
   * (concurrent edits of others are kept). A `pre-restore` version of the
   * document as it was is taken first. Throws what the live provider throws
   * for a refused write (ERR_READ_ONLY), having changed nothing.
   */
  restore(id: string): { preRestore: VersionMeta; update: Uint8Array | null } {
    const version = this.open(id)
    try {
      const before = captureVersion(this.live.doc, { kind: 'pre-restore', label: `before restoring ${id}`, author: this.options.author ?? '', nowMs: this.now() })
      this.live.transact((doc) => restoreVersion(doc, version, RESTORE_ORIGIN, this.options.hints === undefined ? undefined : { hints: this.options.hints }))
      const update = this.appendRecord(before)
      const { stateV2: _state, ...meta } = before
      return { preRestore: meta, update }
    } finally {
      version.destroy()
    }
  }

  /** Closes the history document's provider (the live one stays the app's). */
  async destroy(): Promise<void> {
    await this.history.destroy()
  }

  private now(): number {
    return (this.options.now ?? Date.now)()
  }
}

function copyOf(doc: Y.Doc): Y.Doc {
  const copy = new Y.Doc()
  Y.applyUpdateV2(copy, Y.encodeStateAsUpdateV2(doc))
  return copy
}

/** Throws ERR_VERSION_NOT_FOUND unless `id` is listed. */
export function requireVersion(history: VersionHistory, id: string): VersionMeta {
  const found = history.list().find((v) => v.id === id)
  if (found === undefined) throw new HistoryError('ERR_VERSION_NOT_FOUND', id)
  return found
}
