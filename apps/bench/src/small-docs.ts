import * as Y from 'yjs'
import { seededRandom } from './fixtures.js'

const WORDS = ['lorem ', 'ipsum ', 'dolor ', 'sit ', 'amet, ', 'consectetur ', 'adipiscing ', 'elit. ']
/** Edits per transaction: a burst of typing. */
const EDITS_PER_TRANSACTION = 10

/**
 * One edit of a note typed mostly in order: 88 % words appended at the end,
 * 5 % a backspace of 1–4 characters at the end, 3 % a deletion somewhere
 * else, 4 % a word inserted somewhere else. 2,000 characters typed this way
 * encode to about 2.7 KB.
 */
function typingEdit(text: Y.Text, random: () => number): void {
  const length = text.length
  const x = random()
  const word = (): string => WORDS[Math.floor(random() * WORDS.length)] ?? 'x'
  if (length > 10 && x < 0.05) {
    const n = 1 + Math.floor(random() * 4)
    text.delete(length - n, n)
  } else if (length > 10 && x < 0.08) {
    const at = Math.floor(random() * (length - 4))
    text.delete(at, 1 + Math.floor(random() * 3))
  } else if (x < 0.12) {
    text.insert(Math.floor(random() * (length + 1)), word())
  } else {
    text.insert(length, word())
  }
}

/** Types into `text` (which must be in a document) until it holds at least `chars` characters. */
export function typeNote(text: Y.Text, chars: number, seed: number): void {
  const random = seededRandom(seed)
  const doc = text.doc
  if (doc === null) throw new Error('typeNote: the text is not in a document')
  // Bounded: every transaction adds characters on average; 4× the expected count is never reached.
  for (let i = 0; i < chars && text.length < chars; i++) {
    doc.transact(() => {
      for (let k = 0; k < EDITS_PER_TRANSACTION; k++) typingEdit(text, random)
    })
  }
}

/** Client id of the author of seeded document `index` (any fixed, distinct value). */
const authorOf = (index: number): number => 10_000 + index

/** A small document: its Y.Text `text` holds a note of about `chars` characters, typed by its own author. */
export function smallDoc(index: number, chars: number): Y.Doc {
  const doc = new Y.Doc()
  doc.clientID = authorOf(index)
  typeNote(doc.getText('text'), chars, 1000 + index)
  return doc
}

export interface SmallDocSet {
  names: string[]
  /** Each document as one update (`Y.encodeStateAsUpdate`). */
  states: Uint8Array[]
  /** Each document's text, to check what a client received. */
  texts: string[]
}

/** `count` small documents named `${prefix}${index}`. */
export function smallDocSet(prefix: string, count: number, chars: number): SmallDocSet {
  const set: SmallDocSet = { names: [], states: [], texts: [] }
  for (let i = 0; i < count; i++) {
    const doc = smallDoc(i, chars)
    set.names.push(`${prefix}${i}`)
    set.states.push(Y.encodeStateAsUpdate(doc))
    set.texts.push(doc.getText('text').toString())
    doc.destroy()
  }
  return set
}

/** The Y.Map of a parent document that holds its subdocuments (or, in the one-document layout, the texts). */
export const SUBDOCS_MAP = 'subdocs'
/** Key of subdocument `index` in the parent's map. */
export const subdocKey = (index: number): string => `note-${index}`

/** A deterministic uuid v4-like guid (what `new Y.Doc()` would pick, but the same on every run). */
function guidOf(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
}

export interface SubdocFixture {
  /** The parent document: a map of `count` subdocument references (guids only, no content). */
  parentState: Uint8Array
  guids: string[]
  /** Each subdocument's content as one update. */
  subdocStates: Uint8Array[]
  texts: string[]
  /** The one-document layout peers would use: the same texts as Y.Text values of the parent's map. */
  inlineState: Uint8Array
}

/** A parent holding `count` subdocuments, each a note of about `chars` characters; and the same texts inlined in one document. */
export function subdocFixture(count: number, chars: number): SubdocFixture {
  const random = seededRandom(77)
  const parent = new Y.Doc()
  parent.clientID = 1
  const inline = new Y.Doc()
  inline.clientID = 1
  const fixture: SubdocFixture = { parentState: new Uint8Array(0), guids: [], subdocStates: [], texts: [], inlineState: new Uint8Array(0) }
  for (let i = 0; i < count; i++) {
    const guid = guidOf(random)
    parent.getMap(SUBDOCS_MAP).set(subdocKey(i), new Y.Doc({ guid, autoLoad: false }))
    const sub = smallDoc(i, chars)
    fixture.guids.push(guid)
    fixture.subdocStates.push(Y.encodeStateAsUpdate(sub))
    fixture.texts.push(sub.getText('text').toString())
    sub.destroy()
    // The same typing, into a Y.Text inside the one document.
    const text = new Y.Text()
    inline.getMap(SUBDOCS_MAP).set(subdocKey(i), text)
    typeNote(text, chars, 1000 + i)
  }
  fixture.parentState = Y.encodeStateAsUpdate(parent)
  fixture.inlineState = Y.encodeStateAsUpdate(inline)
  parent.destroy()
  inline.destroy()
  return fixture
}
