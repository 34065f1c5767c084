/**
 * The history document's schema and the functions that write and read it.
 *
 * A history document has one root `Y.Map` named `versions`: version id → a
 * plain object (`VersionRecord`). A record holds the whole document at that
 * point (`stateV2`, Y.encodeStateAsUpdateV2), so it never depends on the live
 * document's stored updates: compacting the live document cannot lose it.
 * Records are immutable: clients only add keys (the relay refuses a client
 * update that deletes anything live in a history document); only retention
 * removes them (retention.ts).
 */
import * as Y from 'yjs'
import { HistoryError } from './errors.js'
import { hash128 } from './hash.js'

export const VERSIONS_ROOT = 'versions'

export type VersionKind = 'named' | 'auto' | 'pre-restore'
export const VERSION_KINDS: readonly VersionKind[] = ['named', 'auto', 'pre-restore']

/** What listing shows: everything but the state itself. */
export interface VersionMeta {
  readonly id: string
  readonly label: string
  readonly kind: VersionKind
  /** Who took it: a user id, `relay:<nodeId>` for automatic ones. */
  readonly author: string
  readonly createdAtMs: number
  /** Y.encodeStateVector of the document at that point. */
  readonly stateVector: Uint8Array
  /** Hash of the Yjs state (state vector and delete set): equal states, equal hashes, on every replica. */
  readonly contentHash: string
  /** Bytes of `stateV2`: what this version costs in the history document. */
  readonly sizeBytes: number
}

export interface VersionRecord extends VersionMeta {
  readonly stateV2: Uint8Array
}

export interface CaptureOptions {
  readonly kind: VersionKind
  readonly nowMs: number
  readonly label?: string
  readonly author?: string
  /** Default: `auto-<hash>` / `pre-restore-<hash>` for automatic kinds (same state, same id everywhere), a random UUID for named ones. */
  readonly id?: string
}

/**
 * A hash of the document's Yjs state: its state vector and delete set, both
 * canonical (sorted by client, merged ranges), so two replicas holding the
 * same state agree whatever the order they received it in.
 */
export function stateHash(doc: Y.Doc): string {
  const sv = [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort((a, b) => a[0] - b[0])
  const ds = Y.createDeleteSetFromStructStore(doc.store) as unknown as { clients: Map<number, { clock: number; len: number }[]> }
  const parts = sv.map(([client, clock]) => `${client}:${clock}`)
  parts.push('|')
  for (const client of [...ds.clients.keys()].sort((a, b) => a - b)) {
    for (const r of ds.clients.get(client) ?? []) parts.push(`${client}:${r.clock}+${r.len}`)
  }
  return hash128(new TextEncoder().encode(parts.join(',')))
}

/** A version of `doc` as it is now (reads it; changes nothing). */
export function captureVersion(doc: Y.Doc, options: CaptureOptions): VersionRecord {
  const contentHash = stateHash(doc)
  const stateV2 = Y.encodeStateAsUpdateV2(doc)
  const id = options.id ?? defaultId(options.kind, contentHash)
  return {
    id,
    label: options.label ?? '',
    kind: options.kind,
    author: options.author ?? '',
    createdAtMs: options.nowMs,
    stateVector: Y.encodeStateVector(doc),
    contentHash,
    sizeBytes: stateV2.length,
    stateV2
  }
}

function defaultId(kind: VersionKind, contentHash: string): string {
  switch (kind) {
    case 'auto':
      return `auto-${contentHash}`
    case 'pre-restore':
      return `pre-restore-${contentHash}`
    case 'named':
      return globalThis.crypto.randomUUID()
  }
}

export const versionsMap = (historyDoc: Y.Doc): Y.Map<unknown> => historyDoc.getMap(VERSIONS_ROOT)

/**
 * Adds `record` to the history document unless a version with its id is
 * there already (an automatic version of the same state taken elsewhere):
 * then nothing changes and it returns false. Append-only: never overwrites.
 */
export function appendVersion(historyDoc: Y.Doc, record: VersionRecord, origin?: unknown): boolean {
  const map = versionsMap(historyDoc)
  if (map.has(record.id)) return false
  historyDoc.transact(() => map.set(record.id, { ...record }), origin)
  return true
}

/** The record stored under `id`, validated; null when absent or not a valid record. */
export function readVersion(historyDoc: Y.Doc, id: string): VersionRecord | null {
  return toRecord(id, versionsMap(historyDoc).get(id))
}

function toRecord(id: string, value: unknown): VersionRecord | null {
  if (value === null || typeof value !== 'object') return null
  const v = value as Record<string, unknown>
  const kind = v['kind']
  if (typeof kind !== 'string' || !(VERSION_KINDS as readonly string[]).includes(kind)) return null
  if (!(v['stateV2'] instanceof Uint8Array) || !(v['stateVector'] instanceof Uint8Array)) return null
  if (typeof v['createdAtMs'] !== 'number' || typeof v['contentHash'] !== 'string') return null
  return {
    id,
    label: typeof v['label'] === 'string' ? v['label'] : '',
    kind: kind as VersionKind,
    author: typeof v['author'] === 'string' ? v['author'] : '',
    createdAtMs: v['createdAtMs'],
    stateVector: v['stateVector'],
    contentHash: v['contentHash'],
    sizeBytes: v['stateV2'].length,
    stateV2: v['stateV2']
  }
}

/**
 * Every valid version, oldest first (ties by id, so every replica lists the
 * same order). Entries that are not valid records (a writer may append
 * anything) are not versions and are left out; `invalidVersionIds` names them.
 */
export function listVersions(historyDoc: Y.Doc): VersionMeta[] {
  const out: VersionMeta[] = []
  for (const [id, value] of versionsMap(historyDoc).entries()) {
    const record = toRecord(id, value)
    if (record === null) continue
    const { stateV2: _state, ...meta } = record
    out.push(meta)
  }
  return out.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** Keys of the `versions` map that hold no valid record. */
export function invalidVersionIds(historyDoc: Y.Doc): string[] {
  return [...versionsMap(historyDoc).entries()].filter(([id, v]) => toRecord(id, v) === null).map(([id]) => id)
}

/**
 * The document as it was at version `id`: a fresh Y.Doc (never the live one),
 * for reading. Throws ERR_VERSION_NOT_FOUND or ERR_VERSION_INVALID.
 */
export function openVersion(historyDoc: Y.Doc, id: string): Y.Doc {
  const record = readVersion(historyDoc, id)
  if (record === null) throw new HistoryError('ERR_VERSION_NOT_FOUND', id)
  return docFromState(record)
}

/** A fresh Y.Doc holding `record`'s state. */
export function docFromState(record: Pick<VersionRecord, 'id' | 'stateV2'>): Y.Doc {
  const doc = new Y.Doc()
  try {
    Y.applyUpdateV2(doc, record.stateV2)
  } catch (cause) {
    doc.destroy()
    throw new HistoryError('ERR_VERSION_INVALID', record.id, { cause })
  }
  return doc
}
