import { createHash } from 'node:crypto'
import * as Y from 'yjs'

export const DIGEST_BYTES = 16
export const BUCKETS = 256

/**
 * A document's digest: a hash of its state vector and delete set — the two
 * things that differ between replicas that do not hold the same content. Both
 * encodings are canonical in Yjs (clients sorted, ranges merged). An empty
 * document has no digest: "never stored" and "empty" must look alike.
 */
export function docDigest(doc: Y.Doc): Uint8Array | null {
  if (doc.store.clients.size === 0) return null
  return createHash('sha256').update(Y.encodeSnapshot(Y.snapshot(doc))).digest().subarray(0, DIGEST_BYTES)
}

/**
 * The digest entry of a deleted document (PROTOCOL.md "Tombstones"): a hash no
 * document state can have, derived from the name alone, so every relay that
 * holds the tombstone lists the same entry and a relay that sees it for a name
 * knows the document was deleted. A relay that does not know the rule sees a
 * differing digest and asks for a diff, which is refused (mesh-doc-unavailable).
 */
export function tombstoneDigest(docName: string): Uint8Array {
  return createHash('sha256').update('meridian-tombstone\0').update(docName).digest().subarray(0, DIGEST_BYTES)
}

export function isTombstoneDigest(docName: string, digest: Uint8Array): boolean {
  return Buffer.compare(tombstoneDigest(docName), digest) === 0
}

const sha = (...parts: (string | Uint8Array)[]): Buffer => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

const xorInto = (target: Uint8Array, value: Uint8Array): void => {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) ^ (value[i] ?? 0)
}

interface Entry {
  digest: Uint8Array
  bucket: number
  entryHash: Uint8Array
}

/**
 * Digests of every stored document, summarised in 256 buckets (XOR of entry
 * hashes, so a change updates one bucket in O(1)) and a root over them. Two
 * relays holding the same documents have equal roots: an idle anti-entropy
 * round is one root each way.
 */
export class DigestIndex {
  private readonly entries = new Map<string, Entry>()
  private readonly buckets = Array.from({ length: BUCKETS }, () => new Uint8Array(DIGEST_BYTES))
  private readonly dirty = new Set<string>()

  get size(): number {
    return this.entries.size
  }

  get dirtyCount(): number {
    return this.dirty.size
  }

  static bucketOf(docName: string): number {
    return sha('bucket\0', docName)[0] ?? 0
  }

  markDirty(docName: string): void {
    this.dirty.add(docName)
  }

  takeDirty(): string[] {
    const names = [...this.dirty]
    this.dirty.clear()
    return names
  }

  digestOf(docName: string): Uint8Array | null {
    return this.entries.get(docName)?.digest ?? null
  }

  set(docName: string, digest: Uint8Array | null): void {
    const old = this.entries.get(docName)
    if (old !== undefined) {
      if (digest !== null && Buffer.compare(old.digest, digest) === 0) return
      xorInto(this.buckets[old.bucket] as Uint8Array, old.entryHash)
      this.entries.delete(docName)
    }
    if (digest === null) return
    const bucket = DigestIndex.bucketOf(docName)
    const entryHash = sha('entry\0', docName, '\0', digest).subarray(0, DIGEST_BYTES)
    xorInto(this.buckets[bucket] as Uint8Array, entryHash)
    this.entries.set(docName, { digest: Uint8Array.from(digest), bucket, entryHash })
  }

  root(): Uint8Array {
    const h = createHash('sha256')
    for (const b of this.buckets) h.update(b)
    return h.digest().subarray(0, DIGEST_BYTES)
  }

  bucketHashes(): Uint8Array {
    const out = new Uint8Array(BUCKETS * DIGEST_BYTES)
    this.buckets.forEach((b, i) => out.set(b, i * DIGEST_BYTES))
    return out
  }

  /** Buckets whose hash differs from `remote` (a bucketHashes() of another relay). */
  differingBuckets(remote: Uint8Array): number[] {
    const out: number[] = []
    for (let i = 0; i < BUCKETS; i++) {
      const mine = this.buckets[i] as Uint8Array
      const theirs = remote.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES)
      if (theirs.length !== DIGEST_BYTES || Buffer.compare(mine, theirs) !== 0) out.push(i)
    }
    return out
  }

  docsIn(buckets: readonly number[]): { docName: string; digest: Uint8Array }[] {
    const wanted = new Set(buckets)
    const out: { docName: string; digest: Uint8Array }[] = []
    for (const [docName, e] of this.entries) if (wanted.has(e.bucket)) out.push({ docName, digest: e.digest })
    return out
  }
}
