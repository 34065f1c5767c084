import { runStorageConformance } from './conformance.js'
import { MemoryStorageAdapter } from './memory-adapter.js'

// No `reopen`: memory is not durable, so the durability cases are skipped.
runStorageConformance('MemoryStorageAdapter', async () => ({ adapter: new MemoryStorageAdapter() }))
