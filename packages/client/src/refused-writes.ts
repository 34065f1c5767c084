/**
 * `@meridian/client/refused-writes`: the write gate that holds back writes a
 * relay cannot take — one larger than a frame (`maxFrameBytes`), one refused
 * for its size (close 1009, 4413) or for what it does (4400
 * ERR_HISTORY_APPEND_ONLY) — and keeps syncing the document's other writes
 * around them (`provider.refusedWrites`, `provider.dropWrite(seq)`):
 * `new MeridianProvider({ …, holdRefusedWrites })`. Without it such a write
 * stops syncing the document (one error; the document keeps every edit
 * locally) until `connect()`, and this code stays out of the bundle.
 */
export { holdRefusedWrites, HoldingWriteGate } from './holding-write-gate.js'
export {
  DEFAULT_MAX_FRAME_BYTES,
  type HoldRefusedWrites,
  type RefusalReason,
  type RefusedWrite,
  type WriteGate,
  type WriteGateOptions
} from './write-gate.js'
