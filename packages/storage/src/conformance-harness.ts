import { afterEach, beforeEach, expect } from 'vitest'
import { isStorageError } from './errors.js'
import type { StorageErrorCode } from './errors.js'
import type { StorageAdapter, StoredDocument } from './types.js'

/** What an adapter's test file hands to `runStorageConformance` for every test. */
export interface ConformanceFixture {
  /** A freshly opened adapter over empty storage. */
  adapter: StorageAdapter
  /**
   * Opens a new adapter over the same storage. Called only after the previous
   * adapter was closed. Omit for non-durable adapters: durability cases are skipped.
   */
  reopen?: () => Promise<StorageAdapter>
  /** Removes whatever the fixture created (temp dirs...). Runs after every adapter is closed. */
  cleanup?: () => Promise<void>
}

export type ConformanceFactory = () => Promise<ConformanceFixture>

/** Per-test view of the fixture; `adapter` changes when `reopen()` is used. */
export interface Harness {
  readonly adapter: StorageAdapter
  readonly canReopen: boolean
  /** Closes the current adapter and swaps in a reopened one. */
  reopen(): Promise<StorageAdapter>
}

export function useHarness(factory: ConformanceFactory): Harness {
  let fixture: ConformanceFixture | undefined
  let current: StorageAdapter | undefined
  let opened: StorageAdapter[] = []

  beforeEach(async () => {
    fixture = await factory()
    current = fixture.adapter
    opened = [fixture.adapter]
  })

  afterEach(async () => {
    // close() must be idempotent, so closing adapters a test already closed is fine.
    for (const adapter of opened) await adapter.close()
    await fixture?.cleanup?.()
    fixture = undefined
    current = undefined
    opened = []
  })

  return {
    get adapter(): StorageAdapter {
      if (current === undefined) throw new Error('conformance harness used outside a test')
      return current
    },
    get canReopen(): boolean {
      return fixture?.reopen !== undefined
    },
    async reopen(): Promise<StorageAdapter> {
      const reopen = fixture?.reopen
      if (reopen === undefined || current === undefined) throw new Error('this fixture cannot reopen')
      await current.close()
      current = await reopen()
      opened.push(current)
      return current
    }
  }
}

/** Bytes helper: `bytes(1, 2, 3)`. */
export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

/** Deterministic filler so large payloads are not trivially compressible or all-zero. */
export function patterned(length: number, salt = 0): Uint8Array {
  const out = new Uint8Array(length)
  let x = (salt * 2654435761 + 1) >>> 0
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** Byte equality without building a diff of megabyte arrays on failure. */
export function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array): boolean {
  if (a == null || a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Calls an adapter method, failing the test if it throws synchronously (the
 * contract says errors always arrive as rejected promises).
 */
export function call<T>(fn: () => Promise<T>): Promise<T> {
  let result: Promise<T>
  try {
    result = fn()
  } catch (err) {
    throw new Error(`adapter threw synchronously instead of rejecting: ${String(err)}`)
  }
  expect(typeof (result as { then?: unknown } | undefined)?.then).toBe('function')
  return result
}

export async function expectStorageError(promise: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error })
  )
  if (outcome.ok) throw new Error(`expected rejection with ${code}, resolved with ${String(outcome.value)}`)
  expect(isStorageError(outcome.error, code), `expected ${code}, got ${String(outcome.error)}`).toBe(true)
}

/** Loads a document that must exist. */
export async function loadExisting(adapter: StorageAdapter, docName: string): Promise<StoredDocument> {
  const doc = await adapter.load(docName)
  if (doc === null) throw new Error(`expected "${docName}" to exist`)
  return doc
}

/** Handed-out bytes must be plain Uint8Arrays (not Buffer) so `toEqual` and structured clone behave. */
export function expectPlainBytes(value: Uint8Array | null): void {
  if (value === null) return
  expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype)
}

export function lastSeq(doc: StoredDocument): number {
  return doc.updates.at(-1)?.seq ?? doc.snapshotSeq
}
