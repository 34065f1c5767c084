import type { FaultProxy } from './fault-proxy.js'

/**
 * Partition helpers for a mesh of relays, each behind its own FaultProxy.
 *
 * `proxies` maps a relay's node id to the proxy IN FRONT OF that relay (the
 * address the relay advertises). A relay-to-relay link between A and B can be
 * dialed by either side:
 *
 *   A dials B:  A ──> proxyOf(B) ──> B     proxyOf(B) sees dialer (peer) = A
 *               'to-target'   on proxyOf(B) = bytes A -> B
 *               'from-target' on proxyOf(B) = bytes B -> A
 *
 *   B dials A:  B ──> proxyOf(A) ──> A     proxyOf(A) sees dialer (peer) = B
 *               'to-target'   on proxyOf(A) = bytes B -> A
 *               'from-target' on proxyOf(A) = bytes A -> B
 *
 * So, to cover links in both dial directions:
 *
 *   full partition A | B:
 *     proxyOf(B).partition(A, 'both') and proxyOf(A).partition(B, 'both')
 *
 *   one-way, "A's packets reach B, B's packets do not reach A" (drop B -> A):
 *     proxyOf(B).partition(A, 'from-target')   // link dialed by A: drop B -> A
 *     proxyOf(A).partition(B, 'to-target')     // link dialed by B: drop B -> A
 *
 * Clients (connections without `x-meridian-node-id`) are never affected by
 * these helpers.
 *
 * Caveat: the proxy works on the byte stream, so a one-way partition also
 * stops NEW links from being established in either dial direction (the
 * WebSocket handshake needs a request and a response). Only links that were
 * already up behave as truly one-way.
 */

function proxyOf(proxies: ReadonlyMap<string, FaultProxy>, nodeId: string): FaultProxy {
  const proxy = proxies.get(nodeId)
  if (proxy === undefined) throw new Error(`no fault proxy for node ${nodeId}`)
  return proxy
}

/**
 * Partition relays `a` and `b` from each other. With `oneWay`, only traffic
 * from `b` to `a` is dropped: `a`'s bytes still reach `b`.
 */
export function partitionPair(
  proxies: ReadonlyMap<string, FaultProxy>,
  a: string,
  b: string,
  opts?: { oneWay?: boolean }
): void {
  const proxyA = proxyOf(proxies, a)
  const proxyB = proxyOf(proxies, b)
  if (opts?.oneWay === true) {
    proxyB.partition(a, 'from-target') // link dialed by A (through B's proxy): B -> A flows back to the dialer
    proxyA.partition(b, 'to-target') // link dialed by B (through A's proxy): B -> A flows to the target
  } else {
    proxyB.partition(a, 'both')
    proxyA.partition(b, 'both')
  }
}

/** Remove every rule between `a` and `b` (in both proxies), whatever partitionPair set. */
export function healPair(proxies: ReadonlyMap<string, FaultProxy>, a: string, b: string): void {
  proxyOf(proxies, b).heal(a)
  proxyOf(proxies, a).heal(b)
}

/** Cut `nodeId` off from every other relay in `proxies` (clients unaffected). */
export function isolate(proxies: ReadonlyMap<string, FaultProxy>, nodeId: string): void {
  for (const other of proxies.keys()) {
    if (other !== nodeId) partitionPair(proxies, nodeId, other)
  }
}

/** Remove every partition rule on every proxy (latency settings are left alone). */
export function healAll(proxies: ReadonlyMap<string, FaultProxy>): void {
  for (const proxy of proxies.values()) proxy.heal()
}
