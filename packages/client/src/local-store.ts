import { LocalPersistence } from './persistence.js'
import { MeridianError } from './errors.js'
import type { ClientStore, ClientStoreFactory, ClientStoredDocument } from './store/types.js'
import type { PersistenceState } from './provider-events.js'

export interface LocalStoreOptions {
  /** The provider's `store` option: a store, or a factory the provider opens (and closes) itself. */
  store: ClientStore | ClientStoreFactory
  docName: string
  compactAfterUpdates: number
  /** A store error the document survives (reported, nothing else changes). */
  onError: (error: MeridianError) => void
  /** The store stopped working: the document goes on in memory (reported once, after its error). */
  onMemoryOnly: (error: MeridianError) => void
}

/**
 * The provider's local store: opening it, reading the document, and the switch
 * to `memory-only` when the store cannot be opened, fails, or is closed under
 * us — the document keeps working either way.
 */
export class LocalStore {
  /** Set once `load` opened the store (whether or not reading succeeded); stays null when it could not be opened. */
  local: LocalPersistence | null = null
  state: PersistenceState = 'ok'
  error: MeridianError | null = null
  private owns = false
  /** The store was lost before `local` existed (e.g. closed while loading). */
  private lost: MeridianError | null = null

  constructor(private readonly o: LocalStoreOptions) {}

  /** Opens the store and reads the document; never rejects. Null: nothing could be read (working in memory). */
  async load(): Promise<ClientStoredDocument | null> {
    const store = await this.open()
    // No store (it could not be opened): `local` stays null, so writes are kept in memory only.
    if (store === null) return null
    const persistence = new LocalPersistence({
      store,
      docName: this.o.docName,
      compactAfterUpdates: this.o.compactAfterUpdates,
      onError: (e, fatal) => (fatal ? this.setMemoryOnly(e) : this.o.onError(e))
    })
    this.local = persistence
    try {
      const stored = await persistence.load()
      // Closed under us while loading: what loaded is fine, but nothing more can be written.
      if (this.lost !== null) persistence.goMemoryOnly(this.lost)
      return stored
    } catch (cause) {
      persistence.goMemoryOnly(new MeridianError('ERR_PERSISTENCE', 'load failed; in memory', { cause }))
      return null
    }
  }

  async close(): Promise<void> {
    await this.local?.close(this.owns)
  }

  private async open(): Promise<ClientStore | null> {
    const option = this.o.store
    if (typeof option !== 'function') return option
    this.owns = true
    try {
      // onClose: another tab upgrades or deletes the database, or the browser closes it.
      return await option({ onClose: (cause) => this.onClosed(cause) })
    } catch (cause) {
      this.setMemoryOnly(new MeridianError('ERR_PERSISTENCE', 'store unavailable; in memory', { cause }))
      return null
    }
  }

  /** The store was closed under us: stop writing to it, keep working in memory. */
  private onClosed(cause: unknown): void {
    const error = new MeridianError('ERR_PERSISTENCE', 'database closed (another tab or the browser); in memory', { cause })
    if (this.local !== null) this.local.goMemoryOnly(error)
    else this.lost = error
  }

  private setMemoryOnly(error: MeridianError): void {
    this.o.onError(error)
    if (this.state === 'memory-only') return
    this.state = 'memory-only'
    this.error = error
    this.o.onMemoryOnly(error)
  }
}
