/** Every error of @meridian/history, with a stable code (codes are the contract; messages may change). */
import { defineErrors, type CodedError } from '@meridian/base'

export const HISTORY_ERROR_CODES = {
  ERR_VERSION_NOT_FOUND: 'no such version',
  ERR_VERSION_INVALID: 'the stored version is not a valid version record',
  ERR_HISTORY_DOC_NAME: 'not a document name history can be kept for',
  ERR_HISTORY_OPTIONS: 'invalid history options'
} as const

export type HistoryErrorCode = keyof typeof HISTORY_ERROR_CODES
export const HistoryError = defineErrors('HistoryError', HISTORY_ERROR_CODES)
export type HistoryError = CodedError<HistoryErrorCode>
