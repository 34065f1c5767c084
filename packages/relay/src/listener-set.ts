/**
 * Listeners of one kind of event, made on the first subscription (most rooms
 * never have any). A listener that throws does not stop the others or the
 * emitter: its error goes to `onError`.
 */
export class ListenerSet<T> {
  private listeners: Set<(value: T) => void> | null = null

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Subscribes; returns the unsubscribe function. */
  add(listener: (value: T) => void): () => void {
    const listeners = (this.listeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  get isEmpty(): boolean {
    return this.listeners === null || this.listeners.size === 0
  }

  emit(value: T): void {
    if (this.listeners === null) return
    for (const listener of this.listeners) {
      try {
        listener(value)
      } catch (err) {
        this.onError(err)
      }
    }
  }
}
