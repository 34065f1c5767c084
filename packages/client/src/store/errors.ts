import type { ClientStoreErrorCode } from './types.js'

/** Every store failure is one of these; callers branch on `code`, never on the message. */
export class ClientStoreError extends Error {
  override readonly name = 'ClientStoreError'
  readonly code: ClientStoreErrorCode

  constructor(code: ClientStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * True for a ClientStoreError (optionally with the given code). Also accepts a
 * look-alike from another copy of this package, where `instanceof` fails.
 */
export function isClientStoreError(value: unknown, code?: ClientStoreErrorCode): value is ClientStoreError {
  const matches =
    value instanceof ClientStoreError ||
    (value instanceof Error && value.name === 'ClientStoreError' && typeof (value as { code?: unknown }).code === 'string')
  return matches && (code === undefined || (value as ClientStoreError).code === code)
}

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
