import { defineErrors, type CodedError } from '@meridian/base'

/** Every store failure is one of these; callers branch on `code`, never on the message. */
export const CLIENT_STORE_ERROR_CODES = {
  ERR_STORE_CLOSED: 'the local store is closed', // by us, or by the browser (versionchange from another tab, database deleted)
  ERR_STORE_QUOTA: 'the storage quota is exceeded; the write did not happen',
  ERR_STORE_BLOCKED: 'opening the local store was blocked by another connection',
  ERR_STORE_UNAVAILABLE: 'no IndexedDB in this environment',
  ERR_STORE_IO: 'the local database failed'
} as const

export type ClientStoreErrorCode = keyof typeof CLIENT_STORE_ERROR_CODES

export const ClientStoreError = defineErrors('ClientStoreError', CLIENT_STORE_ERROR_CODES)
export type ClientStoreError = CodedError<ClientStoreErrorCode>

/** True for a ClientStoreError (optionally with one of `codes`), also a look-alike from another copy of this package. */
export const isClientStoreError = (value: unknown, ...codes: ClientStoreErrorCode[]): value is ClientStoreError => ClientStoreError.is(value, ...codes)

/** Maps a DOMException (or anything else thrown by IndexedDB) to a store error code. */
export function clientStoreErrorCode(error: unknown): ClientStoreErrorCode {
  if (isClientStoreError(error)) return error.code
  switch (errorName(error)) {
    case 'QuotaExceededError':
      return 'ERR_STORE_QUOTA'
    // The connection is closing or closed (ours, or forced by the browser).
    case 'InvalidStateError':
      return 'ERR_STORE_CLOSED'
    default:
      return 'ERR_STORE_IO'
  }
}

/** Wraps any thrown value; ClientStoreErrors pass through unchanged so codes set deeper survive. */
export function toClientStoreError(error: unknown, context: string): ClientStoreError {
  if (isClientStoreError(error)) return error
  const name = errorName(error)
  const detail = hasMessage(error) ? error.message : String(error)
  const message = `${context}: ${name !== undefined ? `${name}: ` : ''}${detail}`
  return new ClientStoreError(clientStoreErrorCode(error), message, { cause: error })
}

function errorName(error: unknown): string | undefined {
  // Duck-typed: DOMException is not an Error subclass in every runtime, and fake-indexeddb has its own.
  if (typeof error !== 'object' || error === null) return undefined
  const name = (error as { name?: unknown }).name
  return typeof name === 'string' ? name : undefined
}

function hasMessage(error: unknown): error is { message: string } {
  return typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
}
