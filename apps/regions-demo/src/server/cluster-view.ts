import { defineErrors } from '@meridian/base'
import type { MeshView, PeerView } from './api-types.js'

/**
 * Reads a relay's `GET /v1/cluster` answer into the page's `MeshView`.
 *
 * The shape relied on (packages/relay/src/mesh/mesh.ts, `MeshStatus`):
 * `{ nodeId, region, members: [{ nodeId, linked }], regions: { [region]:
 * { stalenessMs, reachable, pendingUpdates, pendingBytes, oldestPendingMs } } }`.
 * Fields that are missing or of another type read as null (shown as "?"), so a
 * relay that reports less still draws; only a body that is not an object with
 * `nodeId` and `region` strings is an error.
 */
export function readClusterStatus(body: unknown): MeshView {
  if (!isRecord(body) || typeof body.nodeId !== 'string' || typeof body.region !== 'string') {
    throw new ClusterViewError('ERR_CLUSTER_SHAPE', '/v1/cluster: expected an object with nodeId and region strings')
  }
  const linked = Array.isArray(body.members)
    ? body.members.filter((m): m is Record<string, unknown> => isRecord(m) && m.linked === true && typeof m.nodeId === 'string').map((m) => m.nodeId as string)
    : []
  const regions = isRecord(body.regions) ? body.regions : {}
  const peers: PeerView[] = Object.keys(regions)
    .filter((r) => r !== body.region)
    .sort()
    .map((region) => {
      const r = regions[region]
      const s = isRecord(r) ? r : {}
      return {
        region,
        reachable: typeof s.reachable === 'boolean' ? s.reachable : null,
        stalenessMs: finiteOrNull(s.stalenessMs),
        pendingUpdates: finiteOrNull(s.pendingUpdates),
        pendingBytes: finiteOrNull(s.pendingBytes),
        oldestPendingMs: finiteOrNull(s.oldestPendingMs)
      }
    })
  return { nodeId: body.nodeId, region: body.region, linked: linked.sort(), peers }
}

export const ClusterViewError = defineErrors('ClusterViewError', { ERR_CLUSTER_SHAPE: 'unexpected /v1/cluster answer' })

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}
