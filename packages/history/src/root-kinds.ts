/**
 * Which shared type each root of a document is. A document decoded from an
 * update (a version, a relay's copy) has untyped roots until someone calls
 * `getText`/`getMap`/…, and calling the wrong one throws, so the kind is
 * inferred from the stored structure:
 *
 * 1. a root already defined with a constructor is that type (XmlText, Text,
 *    XmlFragment, Map, Array);
 * 2. otherwise its live list items decide: a string, format or embed → `text`;
 *    an XmlElement/XmlText child → `xml`; any other content (JSON values,
 *    binary, nested types, subdocuments) → `array`;
 * 3. no live list item but map entries → `map`;
 * 4. nothing live at all → `empty` (a restore then takes the kind from the
 *    other side; a diff shows nothing).
 *
 * An app whose roots are known passes them as `hints` and skips inference.
 */
import * as Y from 'yjs'

export type RootKind = 'text' | 'map' | 'array' | 'xml' | 'empty'
export type RootHints = Readonly<Record<string, Exclude<RootKind, 'empty'>>>

interface RawType {
  _start: Y.Item | null
  _map: Map<string, Y.Item>
}

/** The kind of the root `name` of `doc` (see the rule above). */
export function rootKind(doc: Y.Doc, name: string, hints?: RootHints): RootKind {
  const hinted = hints?.[name]
  if (hinted !== undefined) return hinted
  const type = doc.share.get(name)
  if (type === undefined) return 'empty'
  if (type instanceof Y.XmlText || type instanceof Y.Text) return 'text'
  if (type instanceof Y.XmlFragment) return 'xml'
  if (type instanceof Y.Map) return 'map'
  if (type instanceof Y.Array) return 'array'
  return inferKind(type as unknown as RawType)
}

function inferKind(type: RawType): RootKind {
  let sawList = false
  // Bounded by the root's list length.
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return 'text'
    if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText || content.type instanceof Y.XmlHook)) return 'xml'
    sawList = true
  }
  if (sawList) return 'array'
  for (const item of type._map.values()) if (!item.deleted) return 'map'
  return 'empty'
}

/** Every root of `doc` with its kind. */
export function rootKinds(doc: Y.Doc, hints?: RootHints): Map<string, RootKind> {
  const kinds = new Map<string, RootKind>()
  for (const name of doc.share.keys()) kinds.set(name, rootKind(doc, name, hints))
  if (hints !== undefined) for (const [name, kind] of Object.entries(hints)) kinds.set(name, kind)
  return kinds
}

/** The root `name` as the shared type of `kind` (defining it if untyped). */
export function typedRoot(doc: Y.Doc, name: string, kind: Exclude<RootKind, 'empty'>): Y.Text | Y.Map<unknown> | Y.Array<unknown> | Y.XmlFragment {
  switch (kind) {
    case 'text': {
      const existing = doc.share.get(name)
      return existing instanceof Y.XmlText ? existing : doc.getText(name)
    }
    case 'map':
      return doc.getMap(name)
    case 'array':
      return doc.getArray(name)
    case 'xml':
      return doc.getXmlFragment(name)
  }
}

/**
 * The kind both sides of a restore or diff use for root `name`: a typed root
 * wins, then whichever side's structure says something.
 */
export function sharedKind(a: Y.Doc, b: Y.Doc, name: string, hints?: RootHints): RootKind {
  const typed = (doc: Y.Doc): boolean => {
    const t = doc.share.get(name)
    return t !== undefined && t.constructor !== Y.AbstractType
  }
  if (typed(a)) return rootKind(a, name, hints)
  if (typed(b)) return rootKind(b, name, hints)
  const ka = rootKind(a, name, hints)
  return ka !== 'empty' ? ka : rootKind(b, name, hints)
}
