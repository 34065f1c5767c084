import type { ClientStore, ClientStoredDocument } from './store/types.js'
import { MeridianError } from './errors.js'
import { isCodedError } from '@meridian/base'
import type { ClientStoreErrorCode } from './store/errors.js'

interface QueuedWrite {
  data: Uint8Array
  pending: boolean
  resolve: (key: number | null) => void
}

/**
 * The provider's side of the client store for one document: writes are
 * batched per tick into one transaction and committed in order; the store is
 * compacted in the background once enough records pile up. A failing store
 * never throws into the document: errors go to `onError` and the write's key
 * resolves to null (the edit lives on in memory and in the ledger).
 *
 * A failed write (quota, I/O) or a store closed under us (another tab
 * upgrading the database) switches it to memory-only for good: later writes
 * are not attempted (they resolve to null at once) and `onError` is told with
 * `fatal: true`, once. Failed acknowledgements and compactions lose nothing
 * (records stay as they are) and are reported with `fatal: false`. A reload
 * tries the store again.
 */
export class LocalPersistence {
  private readonly store: ClientStore
  private readonly docName: string
  private readonly compactAfterUpdates: number
  private readonly onError: (error: MeridianError, fatal: boolean) => void
  private batch: QueuedWrite[] = []
  private scheduled = false
  private tail: Promise<void> = Promise.resolve()
  private compaction: Promise<void> | null = null
  private closed = false
  private _memoryOnly = false

  constructor(options: {
    store: ClientStore
    docName: string
    compactAfterUpdates: number
    onError: (error: MeridianError, fatal: boolean) => void
  }) {
    this.store = options.store
    this.docName = options.docName
    this.compactAfterUpdates = options.compactAfterUpdates
    this.onError = options.onError
  }

  /**
   * Stops using the store (it failed, or was closed under us). Idempotent;
   * reports `error` as fatal only the first time. Returns whether this call
   * made the switch.
   */
  goMemoryOnly(error: MeridianError): boolean {
    if (this._memoryOnly) return false
    this._memoryOnly = true
    this.onError(error, true)
    return true
  }

  async load(): Promise<ClientStoredDocument> {
    const stored = await this.store.load(this.docName)
    if (stored.updates.length >= this.compactAfterUpdates) this.compact()
    return stored
  }

  /** Queues a write; resolves with its key once committed, or null if it could not be stored. */
  write(data: Uint8Array, pending: boolean): Promise<number | null> {
    if (this.closed || this._memoryOnly) return Promise.resolve(null)
    return new Promise((resolve) => {
      this.batch.push({ data, pending, resolve })
      if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flushBatch())
      }
    })
  }

  acknowledge(keys: number[]): void {
    if (keys.length === 0 || this.closed || this._memoryOnly) return
    this.tail = this.tail.then(() =>
      this.store.acknowledge(this.docName, keys).catch((cause: unknown) => {
        this.fail(new MeridianError('ERR_PERSISTENCE', 'acknowledgements not stored', { cause }), false)
      })
    )
  }

  /** Resolves once every write queued so far has committed or failed. */
  async flush(): Promise<void> {
    if (this.scheduled) this.flushBatch()
    await this.tail
    if (this.compaction !== null) await this.compaction
  }

  async close(closeStore: boolean): Promise<void> {
    await this.flush()
    this.closed = true
    if (closeStore) await this.store.close()
  }

  private flushBatch(): void {
    this.scheduled = false
    const batch = this.batch
    this.batch = []
    if (batch.length === 0) return
    this.tail = this.tail.then(async () => {
      if (this._memoryOnly) {
        batch.forEach((w) => w.resolve(null))
        return
      }
      try {
        const result = await this.store.append(
          this.docName,
          batch.map((w) => ({ data: w.data, pending: w.pending }))
        )
        batch.forEach((w, i) => w.resolve(result.keys[i] ?? null))
        if (result.updateCount >= this.compactAfterUpdates) this.compact()
      } catch (cause) {
        batch.forEach((w) => w.resolve(null))
        this.fail(new MeridianError('ERR_PERSISTENCE', 'write failed; this edit and later ones in memory', { cause }), true)
      }
    })
  }

  private compact(): void {
    if (this.compaction !== null || this.closed || this._memoryOnly) return
    this.compaction = this.tail
      .then(() => (this._memoryOnly ? undefined : this.store.compact(this.docName)))
      .catch((cause: unknown) => {
        this.fail(new MeridianError('ERR_PERSISTENCE', 'compaction failed; records kept', { cause }), false)
      })
      .finally(() => {
        this.compaction = null
      })
  }

  /** A failure that loses nothing is only reported; one that does, or a closed store, ends the use of the store. */
  private fail(error: MeridianError, losesData: boolean): void {
    // By code, not by class: the store errors' class lives in @meridian/client/store, and custom stores reject with the same codes.
    if (losesData || (isCodedError(error.cause) && error.cause.code === ('ERR_STORE_CLOSED' satisfies ClientStoreErrorCode))) {
      this.goMemoryOnly(error)
    } else if (!this._memoryOnly) {
      this.onError(error, false)
    }
  }
}
