import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay, type RelayOptions } from '@meridian/relay'

export interface TestRelay {
  relay: Relay
  /** `ws://127.0.0.1:<port>` */
  url: string
  storage: StorageAdapter
}

/**
 * A relay in this process on a real loopback socket (in-memory storage unless
 * `options.storage` is given). `port` 0 picks a free one. Close it with `relay.close()`.
 */
export async function startTestRelay(options: Partial<RelayOptions> = {}, port = 0): Promise<TestRelay> {
  const storage = options.storage ?? new MemoryStorageAdapter()
  const relay = await buildRelay({ ...options, storage })
  const url = await relay.listen({ port, host: '127.0.0.1' })
  return { relay, url, storage }
}

/** The document as a relay's storage holds it (one implementation with the memory mode's). */
export { loadStoredDoc as storedDoc } from '../stored-doc.js'
