export { startFaultProxy, parseDialerIdentity } from './fault-proxy.js'
export type { FaultProxy, FaultProxyOptions, FaultProxyConnection, FaultProxyStats, PartitionDirection } from './fault-proxy.js'
export { partitionPair, healPair, isolate, healAll } from './partition-plan.js'
