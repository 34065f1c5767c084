/**
 * The JSON projection of a document's root types (GET /v1/docs/:name/json).
 *
 * Yjs only knows a root's type once code calls `doc.getText(name)` (or
 * getArray, getMap, getXmlFragment); an update carries the root's name and its
 * content, not its type. So the type comes from `?types=name:kind,...` when
 * given (kinds: text, array, map, xml), and otherwise from what is stored:
 * a root holding string, format or embed content is `text`; one holding XML
 * elements or XML text is `xml`; other sequence content is `array`; a root with
 * keys and no sequence is `map`; a root with nothing left is left out.
 *
 * The projection runs on a copy of the document: defining a root's type on the
 * relay's own document would make a client's different definition throw.
 */
import * as Y from 'yjs'
import { RelayError } from '../errors.js'

export type RootKind = 'text' | 'array' | 'map' | 'xml'

const KINDS: readonly RootKind[] = ['text', 'array', 'map', 'xml']
/** Most roots a `types` parameter may name. */
export const MAX_TYPED_ROOTS = 64

/** Parses `content:text,items:array` (names percent-decoded by the query parser; ':' splits at the last one). */
export function parseTypes(param: string): Map<string, RootKind> {
  const out = new Map<string, RootKind>()
  for (const part of param.split(',')) {
    if (part === '') continue
    const colon = part.lastIndexOf(':')
    const name = part.slice(0, colon)
    const kind = part.slice(colon + 1) as RootKind
    if (colon <= 0 || !KINDS.includes(kind)) throw new RelayError('ERR_BAD_REQUEST', `types: expected name:${KINDS.join('|')}, got ${JSON.stringify(part)}`)
    out.set(name, kind)
    if (out.size > MAX_TYPED_ROOTS) throw new RelayError('ERR_BAD_REQUEST', `types: at most ${MAX_TYPED_ROOTS} roots`)
  }
  return out
}

/** The kind of a root as stored (see the rule above), or null when it holds nothing. */
/** `doc.share`'s value type (Yjs types it with `any`). */
type RootType = Y.Doc['share'] extends Map<string, infer T> ? T : never

export function discoverKind(type: RootType): RootKind | null {
  let item = type._start
  if (item === null) return type._map.size > 0 ? 'map' : null
  let sequence: RootKind | null = null
  for (; item !== null; item = item.right) {
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return 'text'
    if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText || content.type instanceof Y.XmlHook)) return 'xml'
    if (!(content instanceof Y.ContentDeleted)) sequence = 'array'
  }
  return sequence ?? (type._map.size > 0 ? 'map' : null)
}

export interface JsonProjection {
  types: Record<string, RootKind>
  data: Record<string, unknown>
}

/** Projects `state` (a full update of the document); `types` overrides discovery for the roots it names. */
export function projectJson(state: Uint8Array, types: ReadonlyMap<string, RootKind>): JsonProjection {
  const doc = new Y.Doc({ gc: true })
  try {
    Y.applyUpdate(doc, state)
    const kinds = new Map<string, RootKind>()
    for (const [name, type] of doc.share) {
      const kind = types.get(name) ?? discoverKind(type)
      if (kind !== null) kinds.set(name, kind)
    }
    for (const [name, kind] of types) kinds.set(name, kind)
    const out: JsonProjection = { types: {}, data: {} }
    for (const [name, kind] of kinds) {
      out.types[name] = kind
      out.data[name] = project(doc, name, kind)
    }
    return out
  } catch (err) {
    if (err instanceof RelayError) throw err
    // doc.get throws when one name is asked for as two kinds; anything else is a bad `types`.
    throw new RelayError('ERR_BAD_REQUEST', `cannot project the document with these types: ${(err as Error).message}`, { cause: err })
  } finally {
    doc.destroy()
  }
}

function project(doc: Y.Doc, name: string, kind: RootKind): unknown {
  switch (kind) {
    case 'text':
      return doc.getText(name).toString()
    case 'array':
      return doc.getArray(name).toJSON()
    case 'map':
      return doc.getMap(name).toJSON()
    case 'xml':
      return doc.getXmlFragment(name).toString()
  }
}
