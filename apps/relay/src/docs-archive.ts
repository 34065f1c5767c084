/**
 * Backup archives of documents (`meridian-relay docs export|import`): NDJSON,
 * one JSON object per line, UTF-8 (README "Backup and restore"):
 *
 *   {"format":"meridian-docs","version":1,"createdAt":"<ISO time>"}
 *   {"doc":"<name>","update":"<base64>","stateVector":"<base64>","sha256":"<hex of the update bytes>"}
 *   {"tombstone":"<name>","deletedAtMs":<ms>}
 *   {"end":true,"docs":<n>,"tombstones":<n>}
 *
 * Each document is one compacted Yjs update (its whole state). The trailer
 * says the archive is complete: an import refuses an archive without it, or
 * with a checksum that does not match, before writing anything.
 *
 * Offline import writes to storage directly, so the relays on that storage
 * must be stopped (a running relay would not see it until it reloads the
 * document; import through the HTTP API instead). It is idempotent: a document
 * whose stored state already contains the archived one is skipped; otherwise
 * one update is appended (what the stored state lacks), and the document is
 * read back and checked to contain the archived state.
 */
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { docFromStored, type StorageAdapter } from '@meridian/storage'

export const ARCHIVE_FORMAT = 'meridian-docs'
export const ARCHIVE_VERSION = 1

export type ArchiveLine =
  | { format: typeof ARCHIVE_FORMAT; version: number; createdAt: string }
  | { doc: string; update: string; stateVector: string; sha256: string }
  | { tombstone: string; deletedAtMs: number }
  | { end: true; docs: number; tombstones: number }

export interface ArchiveDoc { name: string; update: Uint8Array; stateVector: Uint8Array }
export interface ArchiveContents { docs: ArchiveDoc[]; tombstones: { name: string; deletedAtMs: number }[] }

export class ArchiveError extends Error {
  readonly code = 'ERR_ARCHIVE'
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

export function headerLine(now: Date): string {
  return JSON.stringify({ format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, createdAt: now.toISOString() }) + '\n'
}

export function docLine(name: string, update: Uint8Array): string {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, update)
    return JSON.stringify({ doc: name, update: b64(update), stateVector: b64(Y.encodeStateVector(doc)), sha256: sha256(update) }) + '\n'
  } finally {
    doc.destroy()
  }
}

export const tombstoneLine = (name: string, deletedAtMs: number): string => JSON.stringify({ tombstone: name, deletedAtMs }) + '\n'
export const endLine = (docs: number, tombstones: number): string => JSON.stringify({ end: true, docs, tombstones }) + '\n'

/** Parses and checks a whole archive (header, checksums, trailer counts); throws ArchiveError. */
export function parseArchive(lines: Iterable<string>): ArchiveContents {
  const out: ArchiveContents = { docs: [], tombstones: [] }
  let header = false
  let ended = false
  let n = 0
  for (const raw of lines) {
    n++
    if (raw.trim() === '') continue
    if (ended) throw new ArchiveError(`line ${n}: data after the end line`)
    let line: Record<string, unknown>
    try {
      line = JSON.parse(raw) as Record<string, unknown>
    } catch {
      throw new ArchiveError(`line ${n}: not JSON`)
    }
    if (!header) {
      if (line.format !== ARCHIVE_FORMAT || line.version !== ARCHIVE_VERSION) throw new ArchiveError(`line ${n}: not a ${ARCHIVE_FORMAT} v${ARCHIVE_VERSION} archive`)
      header = true
    } else if (typeof line.doc === 'string' && typeof line.update === 'string' && typeof line.stateVector === 'string') {
      const update = new Uint8Array(Buffer.from(line.update, 'base64'))
      if (sha256(update) !== line.sha256) throw new ArchiveError(`line ${n}: checksum mismatch for ${JSON.stringify(line.doc)}`)
      out.docs.push({ name: line.doc, update, stateVector: new Uint8Array(Buffer.from(line.stateVector, 'base64')) })
    } else if (typeof line.tombstone === 'string' && typeof line.deletedAtMs === 'number') {
      out.tombstones.push({ name: line.tombstone, deletedAtMs: line.deletedAtMs })
    } else if (line.end === true) {
      if (line.docs !== out.docs.length || line.tombstones !== out.tombstones.length) throw new ArchiveError(`line ${n}: the end line counts do not match the archive`)
      ended = true
    } else {
      throw new ArchiveError(`line ${n}: unknown entry`)
    }
  }
  if (!header) throw new ArchiveError('empty archive')
  if (!ended) throw new ArchiveError('the archive is truncated (no end line)')
  return out
}

/** Writes the archive of every stored document (one at a time in memory) and every tombstone to `write`. */
export async function exportStorage(storage: StorageAdapter, write: (chunk: string) => Promise<void>, options: { prefix?: string; now?: Date } = {}): Promise<{ docs: number; tombstones: number }> {
  const prefix = options.prefix ?? ''
  await write(headerLine(options.now ?? new Date()))
  const tombstones = (await storage.listTombstones?.()) ?? []
  const deleted = new Set(tombstones.map((t) => t.docName))
  const names = (await storage.list()).filter((n) => n.startsWith(prefix) && !deleted.has(n)).sort()
  let docs = 0
  for (const name of names) {
    const stored = await storage.load(name)
    if (stored === null) continue // removed since the listing
    const doc = docFromStored(stored)
    try {
      if (doc.store.clients.size === 0) continue
      await write(docLine(name, Y.encodeStateAsUpdate(doc)))
      docs++
    } finally {
      doc.destroy()
    }
  }
  const kept = tombstones.filter((t) => t.docName.startsWith(prefix))
  for (const t of kept) await write(tombstoneLine(t.docName, t.deletedAtMs))
  await write(endLine(docs, kept.length))
  return { docs, tombstones: kept.length }
}

export interface ImportReport { written: number; skipped: number; tombstones: number }

/** Same content: equal state vectors and delete sets. */
function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return Buffer.compare(Y.encodeSnapshot(Y.snapshot(a)), Y.encodeSnapshot(Y.snapshot(b))) === 0
}

/**
 * Imports a parsed archive into `storage` (see the file comment). `afterDocument`
 * runs after each document is done (tests inject a failure there). Throws
 * ArchiveError when a document read back does not contain what was archived.
 */
export async function importIntoStorage(storage: StorageAdapter, archive: ArchiveContents, options: { afterDocument?: (index: number) => void } = {}): Promise<ImportReport> {
  const report: ImportReport = { written: 0, skipped: 0, tombstones: 0 }
  for (const [i, entry] of archive.docs.entries()) {
    const current = docFromStored(await storage.load(entry.name))
    const merged = new Y.Doc()
    try {
      Y.applyUpdate(merged, Y.encodeStateAsUpdate(current))
      Y.applyUpdate(merged, entry.update)
      if (sameState(current, merged)) report.skipped++
      else {
        // One stored row per document: what the stored state lacks (all of it for a new document).
        const lacking = current.store.clients.size === 0 ? entry.update : Y.encodeStateAsUpdate(merged, Y.encodeStateVector(current))
        await storage.append(entry.name, lacking)
        report.written++
      }
      const reread = docFromStored(await storage.load(entry.name))
      try {
        if (!sameState(reread, merged)) throw new ArchiveError(`${JSON.stringify(entry.name)}: what was read back differs from what was written`)
      } finally {
        reread.destroy()
      }
    } finally {
      current.destroy()
      merged.destroy()
    }
    options.afterDocument?.(i)
  }
  for (const t of archive.tombstones) {
    if (storage.tombstone === undefined) throw new ArchiveError('the archive holds deletions and this storage cannot keep tombstones')
    if ((await storage.loadTombstone?.(t.name)) != null) continue
    await storage.tombstone(t.name, t.deletedAtMs)
    report.tombstones++
  }
  return report
}
