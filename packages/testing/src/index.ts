export { startFaultProxy, parseDialerIdentity } from './fault-proxy.js'
export type { FaultProxy, FaultProxyOptions, FaultProxyConnection, FaultProxyStats, PartitionDirection } from './fault-proxy.js'
export { partitionPair, healPair, isolate, healAll } from './partition-plan.js'

// --- Shared vocabulary (cluster-types, assertions, prng, random edits, fingerprints): exported here for the
// process-mode tests; merge with the lead's sim exports (drop duplicates).
export { KitError, convergenceDiff, expectConverged, levelRank, describeLevel } from './assertions.js'
export type { KitErrorCode } from './assertions.js'
export { ClusterBase } from './cluster-base.js'
export type {
  Cluster, ClusterMode, ClusterOptions, ClusterRelay, ClusterClient, ClientSpec, Endpoint, MeshTiming, PartitionOptions,
  SettleOptions, SettleReport, TrafficReport, ClusterReport, NoLostWritesOptions, WorkspaceSpec
} from './cluster-types.js'
export { createPrng, randomSeed, deriveSeed } from './prng.js'
export { randomEdit, randomEditsOnDoc } from './random-edits.js'
export { captureUpdate } from './capture-update.js'
export type { RandomEditsOptions } from './random-edits.js'
export { docFingerprint, docContent, diffReplicas, docContainsUpdate, shapesOf } from './fingerprint.js'
export type { DocFingerprint, DocShapes, Replica } from './fingerprint.js'

// --- Process mode and real-socket utilities (process/, real/, raw-client, tcp-proxy, ports, wait).
export { ProcessCluster, startProcessCluster } from './process/process-cluster.js'
export type { ProcessClusterRelay, ProcessClusterClient } from './process/process-cluster.js'
export { PROCESS_MESH_TIMING } from './process/process-options.js'
export type { ProcessClusterOptions, ProcessRelayInfo } from './process/process-options.js'
export { startRelayProcess, resolveRelayMain } from './process/relay-process.js'
export type { RelayProcess, RelayProcessOptions, RelayExit } from './process/relay-process.js'
export { startTestRelay, storedDoc } from './real/test-relay.js'
export type { TestRelay } from './real/test-relay.js'
export { createTestClient, NodeWebSocket, TEST_BACKOFF } from './real/test-client.js'
export type { TestClient, TestClientOptions } from './real/test-client.js'
export { RawClient, relayView } from './raw-client.js'
export type { RawClientOptions } from './raw-client.js'
export { startTcpProxy } from './tcp-proxy.js'
export type { TcpProxy } from './tcp-proxy.js'
export { freePort } from './ports.js'
export { waitUntil, sleep, withTimeout } from './wait.js'
export { parseSeed } from './seed.js'

// --- Memory mode (simulated network and time) and the single entry point.
export { createCluster } from './create-cluster.js'
export { MemoryCluster, createMemoryCluster, SIM_MESH_TIMING, DEFAULT_SIM_LATENCY_MS } from './sim/memory-cluster.js'
export type { MemoryClusterOptions } from './sim/memory-cluster.js'
export { SimWorkspace, SimClient } from './sim/sim-workspace.js'
export { Scheduler, SIM_EPOCH_MS, drainMicrotasks } from './sim/scheduler.js'
export type { ClockSkew } from './sim/scheduler.js'
export { StalenessHonesty } from './sim/staleness-honesty.js'
export type { HonestyReport } from './sim/staleness-honesty.js'
export { SimNetwork } from './sim/network.js'
export type { SimNetworkOptions, TrafficCounters, NodeKind, Acceptor } from './sim/network.js'
export { SimRelaySocket, SimBrowserSocket } from './sim/sockets.js'
