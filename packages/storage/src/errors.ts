/**
 * Every error a storage adapter rejects with (fastify style): one class, a small
 * closed set of stable codes. Callers branch on `code`, never on `message`.
 */
export type StorageErrorCode =
  /** The adapter was closed; the call did nothing. */
  | 'ERR_STORAGE_CLOSED'
  /** A bad argument (doc name, update, sequence number); the call did nothing. */
  | 'ERR_STORAGE_INVALID_ARGUMENT'
  /** The underlying engine failed; the original error is in `cause`. */
  | 'ERR_STORAGE_IO'

export class StorageError extends Error {
  readonly code: StorageErrorCode

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    this.code = code
  }
}

/**
 * True for a `StorageError` (optionally with the given code). Checks the shape as
 * well as the class so errors survive duplicated module copies (e.g. src vs dist).
 */
export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  if (!(err instanceof Error) || err.name !== 'StorageError') return false
  const actual = (err as { code?: unknown }).code
  return typeof actual === 'string' && actual.startsWith('ERR_STORAGE_') && (code === undefined || actual === code)
}

/** Passes storage errors through; wraps anything else (an engine failure) as ERR_STORAGE_IO. */
export function toStorageError(err: unknown): StorageError {
  if (isStorageError(err)) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new StorageError('ERR_STORAGE_IO', `storage engine failure: ${detail}`, { cause: err })
}
