/** A field as lib0 writes it: a varUint, or a varUint8Array (length, then bytes). */
export type Field = number | Uint8Array

/**
 * The bytes lib0's encoder writes for `fields`, without lib0's growable
 * encoder (which a client bundle would otherwise carry for a few messages):
 * the messages built here are a few varUints and at most a few byte arrays,
 * so one exact allocation does. Callers check the values (write-checks.ts).
 */
export const frame = (fields: readonly Field[]): Uint8Array => {
  const head: number[] = []
  const parts: [number, Uint8Array][] = []
  const varUint = (n: number): void => {
    for (; n > 0x7f; n = Math.floor(n / 0x80)) head.push(0x80 | (n % 0x80))
    head.push(n)
  }
  for (const field of fields) {
    if (typeof field === 'number') {
      varUint(field)
    } else {
      varUint(field.length)
      parts.push([head.length, field])
    }
  }
  const out = new Uint8Array(head.length + parts.reduce((sum, [, bytes]) => sum + bytes.length, 0))
  let from = 0
  let at = 0
  for (const [until, bytes] of parts) {
    out.set(head.slice(from, until), at)
    at += until - from
    out.set(bytes, at)
    at += bytes.length
    from = until
  }
  out.set(head.slice(from), at)
  return out
}
