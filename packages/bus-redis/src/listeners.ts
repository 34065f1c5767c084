/**
 * A minimal typed event registry. A listener that throws does not stop the
 * others or the emitter; its error goes to `onListenerError`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Listeners<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  readonly #listeners = new Map<keyof Events, Set<(...args: unknown[]) => void>>()
  readonly #onListenerError: (error: unknown, event: keyof Events) => void

  constructor(onListenerError: (error: unknown, event: keyof Events) => void = () => undefined) {
    this.#onListenerError = onListenerError
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, (set = new Set()))
    const fn = listener as (...args: unknown[]) => void
    set.add(fn)
    return () => {
      set.delete(fn)
    }
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args)
      } catch (err) {
        this.#onListenerError(err, event)
      }
    }
  }

  clear(): void {
    this.#listeners.clear()
  }
}
