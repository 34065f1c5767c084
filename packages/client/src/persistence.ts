import type { ClientStore, ClientStoredDocument } from './store/types.js'
import { MeridianError } from './errors.js'

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
 * resolves to null (the edit lives on in memory and in the outbox).
 */
export class LocalPersistence {
  private readonly store: ClientStore
  private readonly docName: string
  private readonly compactAfterUpdates: number
  private readonly onError: (error: MeridianError) => void
  private batch: QueuedWrite[] = []
  private scheduled = false
  private tail: Promise<void> = Promise.resolve()
  private compaction: Promise<void> | null = null
  private closed = false

  constructor(options: {
    store: ClientStore
    docName: string
    compactAfterUpdates: number
    onError: (error: MeridianError) => void
  }) {
    this.store = options.store
    this.docName = options.docName
    this.compactAfterUpdates = options.compactAfterUpdates
    this.onError = options.onError
  }

  async load(): Promise<ClientStoredDocument> {
    const stored = await this.store.load(this.docName)
    if (stored.updates.length >= this.compactAfterUpdates) this.compact()
    return stored
  }

  /** Queues a write; resolves with its key once committed, or null if it could not be stored. */
  write(data: Uint8Array, pending: boolean): Promise<number | null> {
    if (this.closed) return Promise.resolve(null)
    return new Promise((resolve) => {
      this.batch.push({ data, pending, resolve })
      if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flushBatch())
      }
    })
  }

  acknowledge(keys: number[]): void {
    if (keys.length === 0 || this.closed) return
    this.tail = this.tail.then(() =>
      this.store.acknowledge(this.docName, keys).catch((cause: unknown) => {
        this.onError(new MeridianError('ERR_PERSISTENCE', 'could not record acknowledgements locally', { cause }))
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
      try {
        const result = await this.store.append(
          this.docName,
          batch.map((w) => ({ data: w.data, pending: w.pending }))
        )
        batch.forEach((w, i) => w.resolve(result.keys[i] ?? null))
        if (result.updateCount >= this.compactAfterUpdates) this.compact()
      } catch (cause) {
        batch.forEach((w) => w.resolve(null))
        this.onError(new MeridianError('ERR_PERSISTENCE', 'local write failed: the edit is kept in memory only', { cause }))
      }
    })
  }

  private compact(): void {
    if (this.compaction !== null || this.closed) return
    this.compaction = this.tail
      .then(() => this.store.compact(this.docName))
      .catch((cause: unknown) => {
        this.onError(new MeridianError('ERR_PERSISTENCE', 'local compaction failed; records are kept as they are', { cause }))
      })
      .finally(() => {
        this.compaction = null
      })
  }
}
