import { MemoryClientStore } from './memory-store.js'
import { describeClientStoreConformance } from './store-conformance.js'

describeClientStoreConformance('MemoryClientStore', async () => new MemoryClientStore())
