/** The fault proxy's public types (see fault-proxy.ts). */

export type PartitionDirection = 'both' | 'to-target' | 'from-target'

export interface FaultProxyOptions {
  target: { host: string; port: number }
  listen?: { host?: string /* default 127.0.0.1 */; port?: number /* default 0 */ }
  name?: string
  /**
   * A connection whose first bytes look like an HTTP request line is held
   * (nothing forwarded either way) until its request head is complete. If the
   * head is not complete this long after its first byte, the connection is
   * treated as unidentified (`peer: null`) and forwarding starts. Default 2000 ms.
   */
  identifyTimeoutMs?: number
}

export interface FaultProxyConnection {
  id: number
  /** `x-meridian-node-id` of the dialer, or null (no header / not HTTP / not yet identified). */
  peer: string | null
  /** `x-meridian-region` of the dialer, or null. */
  region: string | null
  /** Bytes written to the target on this connection (blackholed bytes not included). */
  bytesToTarget: number
  /** Bytes written back to the dialer on this connection (blackholed bytes not included). */
  bytesFromTarget: number
}

export interface FaultProxyStats {
  /** TCP connections accepted since start. */
  accepted: number
  /** Bytes written to the target (all connections, blackholed bytes not included). */
  bytesToTarget: number
  /** Bytes written back to dialers (all connections, blackholed bytes not included). */
  bytesFromTarget: number
  /** Bytes discarded by partition rules. */
  droppedBytes: number
  /** Times a source socket was paused because its destination (or the latency queue) was full. */
  backpressurePauses: number
  /**
   * Largest amount of data ever held by the proxy for one direction of one
   * connection (latency queue + destination socket's write buffer), in bytes.
   * Stays small (around a socket high-water mark plus one chunk) when
   * backpressure works.
   */
  maxBufferedBytes: number
}

export interface FaultProxy {
  readonly name: string
  readonly port: number
  readonly host: string
  /** `ws://host:port` */
  readonly url: string
  /**
   * Cut traffic between this proxy's target and the dialer `peer` (a node id,
   * or '*' for every dialer including unidentified ones).
   * - 'both' (default): drop everything;
   * - 'to-target': drop only bytes flowing from the dialer to the target;
   * - 'from-target': drop only bytes flowing from the target to the dialer.
   * Rules for the same peer accumulate ('to-target' then 'from-target' = 'both').
   * Applies immediately to existing connections (bytes are silently discarded,
   * sockets stay open) and to new ones (accepted, then blackholed). Rules are
   * checked when a chunk is delivered, so chunks still waiting out a latency
   * delay when the partition starts are dropped too. An end of
   * stream (FIN) in a blocked direction is held, not dropped, and delivered
   * after `heal` — like TCP retransmitting its FIN.
   */
  partition(peer: string, direction?: PartitionDirection): void
  /** Remove the rules for `peer` (exact key: heal('*') removes only the '*' rule), or every rule. New bytes flow again on existing connections. */
  heal(peer?: string): void
  /**
   * Delay every chunk by `ms` in both directions, preserving order. With a
   * `peer`, applies only to that dialer's connections (and takes precedence
   * over the proxy-wide value); without, proxy-wide. `0` removes the setting
   * — `setLatency(0)` without a peer removes every latency setting. Chunks
   * already queued keep their scheduled time (and order).
   */
  setLatency(ms: number, peer?: string): void
  /** Abort the connections dialed by `peer` (all of them for no peer or '*'): both sockets are reset (RST) and destroyed. */
  resetConnections(peer?: string): void
  readonly connections: ReadonlyArray<FaultProxyConnection>
  readonly stats: FaultProxyStats
  /** Close the listener and destroy every connection. Idempotent; resolves even with open connections. */
  close(): Promise<void>
}
