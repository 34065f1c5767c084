/**
 * A room's ordered write queue to storage, with group commit: the changes
 * queued during one event-loop turn are committed together (`appendMany` when
 * the adapter has it, each change still its own stored update). While a commit
 * is in flight the next turns' changes wait and go in the following one.
 */
import type { StorageAdapter } from '@meridian/storage'

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (error: unknown) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Failures reach callers through the room's applyUpdate(); the promise itself must not be an unhandled rejection.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

export interface WriteQueueHooks {
  /** A commit succeeded with these storage seqs (in order). */
  committed(seqs: readonly number[]): void
  /** A commit failed: memory now holds changes storage does not. Returns the error its waiters get. */
  failed(cause: unknown): unknown
}

/** The tail of a queue nothing was ever queued in (one for every room). */
const SETTLED: Promise<void> = Promise.resolve()

export class WriteQueue {
  /** Settles once every change queued so far is committed. */
  private tail: Promise<void> = SETTLED
  /** Changes waiting for the next commit, and the promise that commit settles. */
  private queued: Uint8Array[] = []
  private queuedCommit: Deferred | null = null
  private writing = false

  constructor(
    private readonly storage: StorageAdapter,
    private readonly docName: string,
    private readonly hooks: WriteQueueHooks
  ) {}

  /** Settles once every change queued so far is committed; rejects if the commit covering the last one failed. */
  get committed(): Promise<void> {
    return this.tail
  }

  /** Queues a change for the next commit (started by `commit()`, normally at the end of the turn). */
  add(update: Uint8Array): void {
    this.queued.push(update)
    if (this.queuedCommit === null) {
      this.queuedCommit = deferred()
      this.tail = this.queuedCommit.promise
    }
  }

  /** Commits everything queued, unless a commit is in flight (its completion starts the next). */
  commit(): void {
    if (this.writing || this.queued.length === 0) return
    const batch = this.queued
    const done = this.queuedCommit as Deferred
    this.queued = []
    this.queuedCommit = null
    this.writing = true
    this.appendAll(batch).then(
      (seqs) => {
        this.writing = false
        this.hooks.committed(seqs)
        done.resolve()
        this.commit()
      },
      (cause: unknown) => {
        this.writing = false
        done.reject(this.hooks.failed(cause))
        this.commit()
      }
    )
  }

  /** One commit for the batch: `appendMany` if the adapter has it, else appends one after the other. */
  private async appendAll(batch: readonly Uint8Array[]): Promise<number[]> {
    const { storage } = this
    if (batch.length === 1) return [await storage.append(this.docName, batch[0] as Uint8Array)]
    if (typeof storage.appendMany === 'function') return storage.appendMany(this.docName, batch)
    const seqs: number[] = []
    for (const update of batch) seqs.push(await storage.append(this.docName, update))
    return seqs
  }
}
