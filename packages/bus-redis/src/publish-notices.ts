/**
 * Announcing failed publishes: an update this relay could not publish is
 * announced with a `resync` entry on the document's stream as soon as the
 * command connection can send it, so the other relays of the region catch
 * the document up from storage. Retried until it goes out.
 */
export interface NoticeSender {
  /** Whether a notice can be sent now (else: on the next `flush`). */
  canSend(): boolean
  /** Sends the resync entry for `docName`. */
  send(docName: string): Promise<unknown>
  reportError(err: unknown): void
}

export class PublishNotices {
  readonly #unpublished = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #stopped = false

  constructor(private readonly sender: NoticeSender) {}

  /** An update publish of `docName` failed. */
  mark(docName: string): void {
    this.#unpublished.add(docName)
    this.#schedule(1_000)
  }

  /** Sends every pending notice, if the connection allows. */
  flush(): void {
    if (this.#stopped || this.#unpublished.size === 0) return
    if (!this.sender.canSend()) return // retried on the next 'ready'
    for (const docName of [...this.#unpublished]) {
      this.#unpublished.delete(docName)
      this.sender.send(docName).catch((err: unknown) => {
        this.sender.reportError(err)
        this.mark(docName)
      })
    }
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== null || this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.flush()
    }, delayMs)
    this.#timer.unref()
  }
}
