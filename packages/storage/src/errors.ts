/**
 * Every error a storage adapter rejects with: one family (defineErrors, fastify
 * style), a small closed set of stable codes. Callers branch on `code`, never
 * on `message`.
 */
import { defineErrors, type CodedError } from '@meridian/base'

export const STORAGE_ERROR_CODES = {
  /** The adapter was closed; the call did nothing. */
  ERR_STORAGE_CLOSED: 'the storage adapter is closed',
  /** A bad argument (doc name, update, sequence number); the call did nothing. */
  ERR_STORAGE_INVALID_ARGUMENT: 'invalid storage argument',
  /** The underlying engine failed; the original error is in `cause`. */
  ERR_STORAGE_IO: 'the storage engine failed'
} as const

export type StorageErrorCode = keyof typeof STORAGE_ERROR_CODES

export const StorageError = defineErrors('StorageError', STORAGE_ERROR_CODES)
export type StorageError = CodedError<StorageErrorCode>

/** True for a StorageError (optionally with one of `codes`), also one from another copy of the package. */
export const isStorageError = (err: unknown, ...codes: StorageErrorCode[]): err is StorageError => StorageError.is(err, ...codes)

/** Passes storage errors through; wraps anything else (an engine failure) as ERR_STORAGE_IO. */
export function toStorageError(err: unknown): StorageError {
  if (isStorageError(err)) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new StorageError('ERR_STORAGE_IO', detail, { cause: err })
}
