import type { TrafficReport } from '../cluster-types.js'
import type { FaultProxy } from '../fault-proxy.js'

/**
 * Bytes the proxies forwarded: relay proxies carry only relay-to-relay links
 * (clients dial their own proxies), client proxies the client links. The
 * proxies see bytes, not messages, so `messages` stays 0 in process mode.
 */
export function proxyTraffic(relayProxies: Iterable<FaultProxy>, clientProxies: Iterable<FaultProxy>): TrafficReport {
  let mesh = 0
  let up = 0
  let down = 0
  for (const p of relayProxies) mesh += p.stats.bytesToTarget + p.stats.bytesFromTarget
  for (const p of clientProxies) {
    up += p.stats.bytesToTarget
    down += p.stats.bytesFromTarget
  }
  return {
    messages: 0,
    bytes: mesh + up + down,
    byKind: { 'client->relay': { messages: 0, bytes: up }, 'relay->client': { messages: 0, bytes: down }, 'relay->relay': { messages: 0, bytes: mesh } }
  }
}

/** Traffic between two reports of the same cluster. */
export function diffTraffic(now: TrafficReport, before: TrafficReport): TrafficReport {
  const byKind: TrafficReport['byKind'] = {}
  for (const [kind, v] of Object.entries(now.byKind)) byKind[kind] = { messages: 0, bytes: v.bytes - (before.byKind[kind]?.bytes ?? 0) }
  return { messages: 0, bytes: now.bytes - before.bytes, byKind }
}
