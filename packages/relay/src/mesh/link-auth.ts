import { createHmac, timingSafeEqual } from 'node:crypto'

/** Headers a dialing relay sends on the mesh upgrade request (a proxy may read the first two). */
export const MESH_HEADERS = {
  nodeId: 'x-meridian-node-id',
  region: 'x-meridian-region',
  timestamp: 'x-meridian-timestamp',
  signature: 'x-meridian-signature'
} as const

/** How far a signed timestamp may be from the acceptor's clock. */
export const MESH_AUTH_MAX_SKEW_MS = 5 * 60_000

const sign = (secret: string, nodeId: string, region: string, timestamp: string): string =>
  createHmac('sha256', secret).update(`meridian-mesh\n${nodeId}\n${region}\n${timestamp}`).digest('hex')

/** Headers proving knowledge of the cluster secret without sending it. */
export function meshAuthHeaders(secret: string, nodeId: string, region: string, nowMs: number): Record<string, string> {
  const timestamp = String(nowMs)
  return {
    [MESH_HEADERS.nodeId]: nodeId,
    [MESH_HEADERS.region]: region,
    [MESH_HEADERS.timestamp]: timestamp,
    [MESH_HEADERS.signature]: sign(secret, nodeId, region, timestamp)
  }
}

export type MeshAuthResult = { ok: true; nodeId: string; region: string } | { ok: false; reason: string }

export function verifyMeshAuth(secret: string, headers: Record<string, string | string[] | undefined>, nowMs: number): MeshAuthResult {
  const get = (name: string): string | undefined => {
    const v = headers[name]
    return typeof v === 'string' ? v : undefined
  }
  const nodeId = get(MESH_HEADERS.nodeId)
  const region = get(MESH_HEADERS.region)
  const timestamp = get(MESH_HEADERS.timestamp)
  const signature = get(MESH_HEADERS.signature)
  if (nodeId === undefined || region === undefined || timestamp === undefined || signature === undefined) {
    return { ok: false, reason: 'missing mesh headers' }
  }
  const ts = Number(timestamp)
  if (!Number.isSafeInteger(ts) || Math.abs(nowMs - ts) > MESH_AUTH_MAX_SKEW_MS) return { ok: false, reason: 'stale or invalid timestamp' }
  const expected = Buffer.from(sign(secret, nodeId, region, timestamp), 'hex')
  const given = Buffer.from(signature, 'hex')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' }
  return { ok: true, nodeId, region }
}
