import { deserialize, serialize } from 'node:v8'

/**
 * Node's typed arrays back under vitest's jsdom environment. Vitest copies
 * jsdom's own Uint8Array, ArrayBuffer, … over the globals, while Node (its
 * crypto, TextEncoder, `ws`) keeps making Node's: `instanceof Uint8Array`
 * then fails and lib0 or the SDK's protocol checks refuse bytes that are
 * fine. Browsers have one realm and need none of this. Import this module
 * FIRST in a jsdom test file, before anything that loads lib0 or the SDK.
 * (v8 deserialisation builds objects with this context's intrinsics: Node's.)
 */
const TYPED = ['ArrayBuffer', 'Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array', 'Float64Array'] as const
const globals = globalThis as unknown as Record<string, new (n: number) => object>
for (const name of TYPED) {
  const current = globals[name]
  if (current === undefined) continue
  const node = (deserialize(serialize(new current(0))) as object).constructor as new (n: number) => object
  if (node !== current) globals[name] = node
}
