/**
 * Every error the relay raises or reports to a client, with a stable code.
 * Codes are part of the public contract (clients and operators match on them);
 * messages are for humans and may change.
 */
import { defineErrors, type CodedError } from '@meridian/base'

export const RELAY_ERROR_CODES = {
  ERR_RELAY_OPTIONS: 'invalid relay options',
  ERR_RELAY_CLOSED: 'the relay is shutting down',
  ERR_DOC_NAME: 'invalid document name',
  ERR_DOC_LOAD: 'the document could not be loaded from storage',
  ERR_DOC_CORRUPT: 'a stored update of the document could not be applied',
  ERR_UPDATE_INVALID: 'the update could not be applied',
  ERR_UPDATE_TOO_DEEP: 'the update nests shared types deeper than the relay allows',
  ERR_HISTORY_APPEND_ONLY: 'versions are immutable: a client may only add to a history document, never delete from it',
  ERR_UPDATE_TOO_COSTLY: 'the update would split more items than the relay allows in one message',
  ERR_DOC_BROKEN: 'applying an update failed; the document was dropped from memory and reloads from storage',
  ERR_STORAGE_WRITE: 'the update could not be committed to storage',
  ERR_PROTOCOL: 'the message could not be decoded',
  ERR_AWARENESS_INVALID: 'the awareness update could not be applied',
  ERR_UPDATE_MISSING_DEPS: 'the update depends on changes the relay does not have',
  ERR_AUTH_REQUIRED: 'a token is required',
  ERR_AUTH_INVALID: 'the token could not be verified',
  ERR_AUTH_EXPIRED: 'the token has expired',
  ERR_AUTH_REVOKED: 'the token has been revoked',
  ERR_AUTH_FORBIDDEN: 'the token does not grant access to this document',
  ERR_AUTH_TIMEOUT: 'no valid auth message within the pre-auth budget',
  ERR_ORIGIN: 'this Origin is not allowed',
  ERR_READ_ONLY: 'this connection may only read',
  ERR_DOC_READ_ONLY: "the document is read-only: its home region is unreachable from this relay",
  ERR_DOC_TOO_LARGE: 'the write would make the document larger than the relay allows',
  ERR_RATE_LIMITED: 'too many messages or bytes per second',
  ERR_TOO_MANY_CONNECTIONS: 'the relay or this address has too many connections',
  ERR_TOO_MANY_DOCS: 'this connection has as many documents open as the relay allows',
  ERR_SLOW_CONSUMER: 'the client does not read fast enough',
  ERR_IDLE_TIMEOUT: 'no message within the idle timeout',
  ERR_LOADING_QUEUE_FULL: 'too many messages before the document loaded',
  ERR_MEMORY_BUDGET: 'the relay holds as many documents in memory as its budget allows; retry later',
  ERR_FEED_CURSOR: 'invalid change-feed cursor or parameter',
  ERR_FEED_UNSUPPORTED: "the relay's storage has no change feed",
  ERR_WEBHOOK_UNKNOWN: 'no webhook with that id',
  ERR_WEBHOOK_NOT_LEADER: 'another relay of the region delivers this webhook',
  ERR_DOC_DELETED: 'the document was deleted; its name cannot be used again',
  ERR_DOC_NOT_FOUND: 'no such document',
  ERR_DOC_EXISTS: 'the document already exists',
  ERR_BAD_REQUEST: 'the request is malformed',
  ERR_BODY_TOO_LARGE: 'the request body is larger than the relay allows',
  ERR_ADMIN_AUTH: 'the admin token is required',
  ERR_NOT_SUPPORTED: "the relay's storage does not support this operation"
} as const

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES

export const RelayError = defineErrors('RelayError', RELAY_ERROR_CODES)
export type RelayError = CodedError<RelayErrorCode>

export const isRelayError = (e: unknown, ...codes: RelayErrorCode[]): e is RelayError => RelayError.is(e, ...codes)

/** The close codes live with the wire format (PROTOCOL.md, "Close codes"). */
export { CLOSE_CODES } from '@meridian/protocol'
