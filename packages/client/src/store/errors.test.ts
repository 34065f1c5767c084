import { describe, expect, it } from 'vitest'
import { ClientStoreError, clientStoreErrorCode, isClientStoreError, toClientStoreError } from './errors.js'

describe('ClientStoreError', () => {
  it('carries a stable code, name and cause', () => {
    const cause = new Error('disk')
    const error = new ClientStoreError('ERR_STORE_IO', 'failed', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'ClientStoreError', code: 'ERR_STORE_IO', message: 'the local database failed: failed', cause })
    expect(isClientStoreError(error)).toBe(true)
    expect(isClientStoreError(error, 'ERR_STORE_IO')).toBe(true)
    expect(isClientStoreError(error, 'ERR_STORE_CLOSED')).toBe(false)
    expect(isClientStoreError(new Error('x'))).toBe(false)
    expect(isClientStoreError('ERR_STORE_IO')).toBe(false)
  })

  it('recognises a look-alike from another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ClientStoreError', code: 'ERR_STORE_QUOTA' })
    expect(isClientStoreError(foreign, 'ERR_STORE_QUOTA')).toBe(true)
  })

  it('maps DOMException names to codes', () => {
    expect(clientStoreErrorCode(new DOMException('full', 'QuotaExceededError'))).toBe('ERR_STORE_QUOTA')
    expect(clientStoreErrorCode(new DOMException('closing', 'InvalidStateError'))).toBe('ERR_STORE_CLOSED')
    for (const name of ['AbortError', 'UnknownError', 'DataError', 'NotFoundError', 'VersionError', 'TransactionInactiveError']) {
      expect(clientStoreErrorCode(new DOMException('x', name))).toBe('ERR_STORE_IO')
    }
    expect(clientStoreErrorCode(new TypeError('x'))).toBe('ERR_STORE_IO')
    expect(clientStoreErrorCode(undefined)).toBe('ERR_STORE_IO')
    expect(clientStoreErrorCode({ name: 'QuotaExceededError' })).toBe('ERR_STORE_QUOTA')
  })

  it('wraps with context and keeps existing ClientStoreErrors unchanged', () => {
    const dom = new DOMException('The quota has been exceeded.', 'QuotaExceededError')
    const wrapped = toClientStoreError(dom, "append('doc') failed")
    expect(wrapped).toMatchObject({ code: 'ERR_STORE_QUOTA', cause: dom })
    expect(wrapped.message).toBe("the storage quota is exceeded; the write did not happen: append('doc') failed: QuotaExceededError: The quota has been exceeded.")
    expect(toClientStoreError(wrapped, 'outer')).toBe(wrapped)
    expect(toClientStoreError('boom', 'ctx')).toMatchObject({ code: 'ERR_STORE_IO', message: 'the local database failed: ctx: boom' })
  })
})
