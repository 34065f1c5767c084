/**
 * What a room keeps encoded for joiners: the whole document once (every
 * joiner with an empty document gets the same bytes, and compaction's
 * snapshot reuses them) and diffs for recent state vectors (encoding-cache.ts).
 * Everything is dropped on every change of the document.
 */
import * as Y from 'yjs'
import { encodeUpdateWithoutOldDeletes } from '@meridian/protocol'
import { EncodingCache, stateVectorKey } from './encoding-cache.js'

export type DiffFlavor = 'all-deletes' | 'new-deletes'

export class JoinerEncodings {
  /** The whole document encoded once; null until asked for after a change. */
  private fullState: Uint8Array | null = null
  /** Diffs for recent non-empty state vectors. */
  private readonly diffs = new EncodingCache()

  constructor(private readonly doc: Y.Doc) {}

  /** The whole document as one update (encoded once per change). */
  full(): Uint8Array {
    return (this.fullState ??= Y.encodeStateAsUpdate(this.doc))
  }

  /** What a peer with `stateVector` lacks; a joiner with nothing gets `full()`. */
  diffFor(stateVector: Uint8Array, flavor: DiffFlavor): Uint8Array {
    if (stateVector.length === 1 && stateVector[0] === 0) return this.full()
    // Same version, same state vector: the same bytes (a client asking again costs no re-encoding).
    return this.diffs.get(stateVectorKey(flavor, stateVector), () => flavor === 'new-deletes'
      ? encodeUpdateWithoutOldDeletes(this.doc, stateVector)
      : Y.encodeStateAsUpdate(this.doc, stateVector))
  }

  /** The document changed: nothing encoded before still stands for it. Returns whether anything was held. */
  clear(): boolean {
    const held = this.fullState !== null || this.diffs.size > 0
    this.fullState = null
    this.diffs.clear()
    return held
  }

  /** Bytes held (the full state and the diffs). */
  get bytes(): number {
    return (this.fullState?.length ?? 0) + this.diffs.bytes
  }
}
