import * as Y from 'yjs'
import { defineErrors } from '@meridian/base'
import type { DurabilityLevel } from '@meridian/client'
import { diffReplicas, docFingerprint, shapesOf, type Replica } from './fingerprint.js'

export const KIT_ERROR_CODES = {
  ERR_NOT_CONVERGED: 'the replicas did not converge',
  ERR_LOST_WRITES: 'acknowledged writes were lost',
  ERR_DISHONEST_STALENESS: 'a client reported a staleness bound below the true staleness',
  ERR_SETTLE_TIMEOUT: 'the cluster did not settle in time',
  ERR_CLUSTER_OPTIONS: 'invalid cluster options',
  ERR_UNKNOWN_ENDPOINT: 'no such relay, client or link in this cluster',
  ERR_CLUSTER_CLOSED: 'the cluster is closed',
  ERR_NOT_ONE_UPDATE: 'the function did not make its document emit exactly one update',
  ERR_RELAY_HTTP: 'a relay answered an HTTP request of the kit with an error'
} as const

export type KitErrorCode = keyof typeof KIT_ERROR_CODES

/** Every failure of the kit: a stable code, the seed to replay it, and a message meant to be read. */
export class KitError extends defineErrors('KitError', KIT_ERROR_CODES) {
  readonly seed: number | undefined
  constructor(code: KitErrorCode, message: string, seed?: number) {
    super(code, seed === undefined ? message : `${message}\n(seed ${seed}: replay with the same seed)`)
    this.seed = seed
  }
}

/** Differences between replicas (each compared with the first); empty when they all agree. */
export function convergenceDiff(replicas: readonly Replica[]): string[] {
  const first = replicas[0]
  if (first === undefined) return []
  const shapes = shapesOf(replicas.map((r) => r.doc))
  const expected = JSON.stringify(docFingerprint(first.doc, shapes))
  const lines: string[] = []
  for (const other of replicas.slice(1)) {
    if (JSON.stringify(docFingerprint(other.doc, shapes)) === expected) continue
    for (const line of diffReplicas(first, other, shapes)) lines.push(`  ${line}`)
  }
  return lines
}

/**
 * Throws unless every replica has the same state vector, delete set and
 * content. Accepts docs (named by position) or named replicas.
 */
export function expectConverged(targets: readonly (Y.Doc | Replica)[], options: { seed?: number; label?: string } = {}): void {
  const replicas = targets.map((t, i) => (t instanceof Y.Doc ? { name: `doc[${i}]`, doc: t } : t))
  const lines = convergenceDiff(replicas)
  if (lines.length > 0) {
    throw new KitError('ERR_NOT_CONVERGED', `${options.label ?? 'replicas'} did not converge:\n${lines.join('\n')}`, options.seed)
  }
}

/** local < relay < replicated(1) < replicated(2) … */
export function levelRank(level: DurabilityLevel | 'pending'): number {
  if (level === 'pending') return 0
  if (level === 'local') return 1
  if (level === 'relay') return 2
  return 2 + level.replicated
}

export function describeLevel(level: DurabilityLevel): string {
  return typeof level === 'string' ? level : `replicated(${level.replicated})`
}
