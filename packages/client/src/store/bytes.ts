/**
 * A copy that owns exactly its bytes. Updates often arrive as views into a
 * larger message buffer (lib0 decoders return subarrays); storing the view
 * would keep, or structured-clone, the whole buffer.
 */
export function ownBytes(data: Uint8Array): Uint8Array {
  return data.slice()
}

/** A stored value is usable only as a real Uint8Array; anything else is a corrupt record. */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array
}
