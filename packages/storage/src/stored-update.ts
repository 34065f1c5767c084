/** One stored update of a document (types.ts has the storage contract). */
export interface StoredUpdate {
  /** Per-document sequence number, strictly increasing, never reused. */
  readonly seq: number
  readonly data: Uint8Array
}
