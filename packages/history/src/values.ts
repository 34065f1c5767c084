/** Comparing and copying the values a shared type holds (restore and diff share these). */
import * as Y from 'yjs'

/** One string per value, equal for equal content: shared types by kind and JSON, bytes by content, the rest as JSON. */
export function valueKey(value: unknown): string {
  if (value instanceof Y.AbstractType) return `${typeName(value)}:${value instanceof Y.XmlFragment || value instanceof Y.XmlText ? value.toString() : JSON.stringify(value.toJSON())}`
  if (value instanceof Uint8Array) return `bytes:${Array.prototype.join.call(value, ',')}`
  if (value instanceof Y.Doc) return `doc:${value.guid}`
  return `json:${JSON.stringify(value) ?? 'undefined'}`
}

export type TypeName = 'xml-text' | 'text' | 'xml-element' | 'xml-fragment' | 'map' | 'array' | 'other'

export function typeName(value: Y.AbstractType<unknown>): TypeName {
  if (value instanceof Y.XmlText) return 'xml-text'
  if (value instanceof Y.Text) return 'text'
  if (value instanceof Y.XmlElement) return 'xml-element'
  if (value instanceof Y.XmlFragment) return 'xml-fragment'
  if (value instanceof Y.Map) return 'map'
  if (value instanceof Y.Array) return 'array'
  return 'other'
}

/** A value to insert into another document: shared types are cloned (a type belongs to one document). */
export function copyValue(value: unknown): unknown {
  if (value instanceof Y.AbstractType) return (value as Y.AbstractType<unknown> & { clone(): unknown }).clone()
  return value
}

/** A JSON view of a value for diffs and HTTP (shared types as their JSON, bytes as a number array). */
export function toPlain(value: unknown): unknown {
  if (value instanceof Y.XmlFragment || value instanceof Y.XmlText) return value.toString()
  if (value instanceof Y.AbstractType) return value.toJSON() as unknown
  if (value instanceof Uint8Array) return Array.from(value)
  if (value instanceof Y.Doc) return { subdocument: value.guid }
  return value
}
