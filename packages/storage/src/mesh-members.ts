/**
 * Optional part of the storage contract: what a relay learned of its mesh
 * (other relays, their regions and URLs), kept across restarts so a restarted
 * relay still knows which regions exist and reports them as unknown until it
 * has exchanged with them, instead of forgetting them. Relays of a region that
 * share storage each save their own view (keyed by their node id); loading
 * returns the union, one record per node (the highest incarnation).
 */
import { StorageError } from './errors.js'

export interface StoredMeshMember {
  readonly nodeId: string
  readonly region: string
  readonly url: string
  /** Increases on every restart of that relay. */
  readonly incarnation: number
}

/** Most members one relay may save (the mesh caps gossip well below it). */
export const MAX_STORED_MESH_MEMBERS = 4_096
const MAX_FIELD_CHARS = 2_048

export function assertMeshMembers(observer: unknown, members: unknown): asserts members is readonly StoredMeshMember[] {
  if (typeof observer !== 'string' || observer.length === 0 || observer.length > MAX_FIELD_CHARS) {
    throw new StorageError('ERR_STORAGE_INVALID_ARGUMENT', 'observer node id must be a non-empty string')
  }
  if (!Array.isArray(members) || members.length > MAX_STORED_MESH_MEMBERS) {
    throw new StorageError('ERR_STORAGE_INVALID_ARGUMENT', `members must be an array of at most ${MAX_STORED_MESH_MEMBERS}`)
  }
  for (const m of members as unknown[]) {
    const r = m as Partial<StoredMeshMember> | null
    const ok = r !== null && typeof r === 'object' &&
      [r.nodeId, r.region, r.url].every((v) => typeof v === 'string' && v.length > 0 && v.length <= MAX_FIELD_CHARS) &&
      typeof r.incarnation === 'number' && Number.isSafeInteger(r.incarnation) && r.incarnation >= 0
    if (!ok) throw new StorageError('ERR_STORAGE_INVALID_ARGUMENT', 'each member needs nodeId, region, url (strings) and incarnation (a safe integer >= 0)')
  }
}

/** One record per node: the highest incarnation wins (ties: the first seen). */
export function unionMeshMembers(records: Iterable<StoredMeshMember>): StoredMeshMember[] {
  const byNode = new Map<string, StoredMeshMember>()
  for (const r of records) {
    const known = byNode.get(r.nodeId)
    if (known === undefined || r.incarnation > known.incarnation) byNode.set(r.nodeId, { nodeId: r.nodeId, region: r.region, url: r.url, incarnation: r.incarnation })
  }
  return [...byNode.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
}
