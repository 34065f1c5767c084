import type { Cluster } from './cluster-types.js'
import { createMemoryCluster, type MemoryCluster, type MemoryClusterOptions } from './sim/memory-cluster.js'
import { startProcessCluster, type ProcessCluster } from './process/process-cluster.js'
import type { ProcessClusterOptions } from './process/process-options.js'

/**
 * One entry point for both modes: `memory` (default; simulated network and
 * time, deterministic per seed) or `process` (real relay processes behind
 * fault-injecting proxies). The returned cluster speaks the same vocabulary.
 */
export function createCluster(options: ProcessClusterOptions & { mode: 'process' }): Promise<ProcessCluster>
export function createCluster(options?: MemoryClusterOptions & { mode?: 'memory' }): Promise<MemoryCluster>
export function createCluster(options: (MemoryClusterOptions | ProcessClusterOptions) = {}): Promise<Cluster> {
  if (options.mode === 'process') return startProcessCluster(options as ProcessClusterOptions)
  return createMemoryCluster(options as MemoryClusterOptions)
}
