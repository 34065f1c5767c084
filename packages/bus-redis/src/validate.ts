import { BusError } from './errors.js'

/** Same bound as the relay's document names (1 KiB of UTF-8). */
const MAX_DOC_NAME_BYTES = 1024

export function assertDocName(docName: unknown): asserts docName is string {
  if (typeof docName !== 'string' || docName.length === 0 || Buffer.byteLength(docName, 'utf8') > MAX_DOC_NAME_BYTES) {
    throw new BusError('ERR_BUS_INVALID_ARGUMENT', `docName must be a non-empty string of at most ${MAX_DOC_NAME_BYTES} UTF-8 bytes`)
  }
}

export function assertNodeId(nodeId: unknown): asserts nodeId is string {
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 256) {
    throw new BusError('ERR_BUS_INVALID_ARGUMENT', 'nodeId must be a non-empty string of at most 256 characters')
  }
}

export function assertBusMessage(message: unknown): void {
  const m = message as { kind?: unknown; data?: unknown } | null
  if (typeof m !== 'object' || m === null || (m.kind !== 'update' && m.kind !== 'awareness') || !(m.data instanceof Uint8Array)) {
    throw new BusError('ERR_BUS_INVALID_ARGUMENT', "message must be { kind: 'update' | 'awareness', data: Uint8Array }")
  }
}
