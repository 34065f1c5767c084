import { StorageError } from './errors.js'

/**
 * Longest accepted document name, in UTF-8 bytes. Bounded so names fit in file
 * names, URL paths and index keys of any backend; 1 KiB is far above real names.
 */
export const MAX_DOC_NAME_BYTES = 1024

/**
 * A document name is a non-empty, well-formed UTF-16 string of at most
 * `MAX_DOC_NAME_BYTES` UTF-8 bytes without U+0000. Anything else (slashes, spaces,
 * emoji, dots) is allowed. Lone surrogates and NUL are refused because they do
 * not survive a UTF-8 / C-string round trip in every backend, so the stored name
 * would differ from the one the caller used.
 */
export function assertDocName(docName: unknown): asserts docName is string {
  if (typeof docName !== 'string') throw invalid(`docName must be a string, got ${describe(docName)}`)
  if (docName.length === 0) throw invalid('docName must not be empty')
  let bytes = 0
  for (let i = 0; i < docName.length; i++) {
    const unit = docName.charCodeAt(i)
    if (unit === 0) throw invalid('docName must not contain U+0000')
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = docName.charCodeAt(i + 1)
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw invalid('docName must not contain lone surrogates')
      bytes += 4
      i++
    } else if (unit >= 0xdc00 && unit <= 0xdfff) throw invalid('docName must not contain lone surrogates')
    else bytes += 3
    if (bytes > MAX_DOC_NAME_BYTES) throw invalid(`docName must be at most ${MAX_DOC_NAME_BYTES} UTF-8 bytes`)
  }
}

/** Updates and snapshots are opaque bytes; any Uint8Array (including Buffer, subarrays, empty) is fine. */
export function assertBytes(value: unknown, what: 'update' | 'snapshot'): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array, got ${describe(value)}`)
}

/** A list of updates (`appendMany`): an array of Uint8Arrays, possibly empty. */
export function assertUpdateList(value: unknown): asserts value is readonly Uint8Array[] {
  if (!Array.isArray(value)) throw invalid(`updates must be an array, got ${describe(value)}`)
  for (const update of value as unknown[]) assertBytes(update, 'update')
}

/** Sequence numbers are non-negative safe integers (0 means "nothing"). */
export function assertSeq(value: unknown, what = 'throughSeq'): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} must be a non-negative safe integer, got ${describe(value)}`)
  }
}

function invalid(message: string): StorageError {
  return new StorageError('ERR_STORAGE_INVALID_ARGUMENT', message)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object'
  return typeof value
}
