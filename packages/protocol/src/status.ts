/**
 * Relay → client reports of what the relay can promise (the bounded-staleness
 * policy's inputs), sent only to clients that agreed FEATURE_STATUS /
 * FEATURE_REPLICATION in HELLO:
 *
 *   status      varUint(100) varUint(4) varUint(flags) varString(homeRegion)
 *               varUint(n) n × (varString(region) varUint(stalenessMs + 1, 0 = never exchanged))
 *               flags: bit 0 read-only (the relay refuses writes to this document),
 *                      bit 1 home region known, bit 2 home region reachable,
 *                      bit 3 the relay has other regions configured (peers or a mesh), so an
 *                      empty or partial region list never means "single region"
 *   replicated  varUint(100) varUint(5) varUint(regions) varUint(upTo)
 *               the first `upTo` update-bearing messages of this connection are
 *               held by at least `regions` other regions (committed there)
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import { MERIDIAN_REPLICATED, MERIDIAN_STATUS, MESSAGE_MERIDIAN } from './message-types.js'
import { readVarStringSafe, readVarUintSafe } from './safe-decoding.js'
import { checkString, checkVarUint } from './write-checks.js'

export interface StatusFields {
  /** The relay refuses writes to this document (its home region is unreachable). */
  readOnly: boolean
  /** The document's home region, or null when it has none. */
  homeRegion: string | null
  /** Null when unknown (no home region). */
  homeRegionReachable: boolean | null
  /** Per other region: the relay's staleness towards it (docs/architecture.md, "Staleness"), null if never exchanged. */
  regions: Record<string, number | null>
  /**
   * The relay is part of a multi-region mesh. When true, a region the client has seen before but
   * that the report omits counts as unbounded, and an empty `regions` is not "single region".
   * Relays that predate the flag never set it.
   */
  meshConfigured: boolean
}

export interface StatusMessage extends StatusFields { type: 'status' }
export interface ReplicatedMessage { type: 'replicated'; regions: number; upTo: number }

/** Most regions one STATUS may list. */
export const MAX_STATUS_REGIONS = 256

export const writeStatus = (encoder: encoding.Encoder, s: StatusFields): void => {
  const entries = Object.entries(s.regions)
  if (entries.length > MAX_STATUS_REGIONS) throw new RangeError(`at most ${MAX_STATUS_REGIONS} regions`)
  if (s.homeRegion !== null) checkString(s.homeRegion, 'homeRegion')
  const flags = (s.readOnly ? 1 : 0) | (s.homeRegionReachable !== null ? 2 : 0) | (s.homeRegionReachable === true ? 4 : 0) | (s.meshConfigured ? 8 : 0)
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, MERIDIAN_STATUS)
  encoding.writeVarUint(encoder, flags)
  encoding.writeVarString(encoder, s.homeRegion ?? '')
  encoding.writeVarUint(encoder, entries.length)
  for (const [region, ms] of entries) {
    checkString(region, 'region')
    if (ms !== null) checkVarUint(ms, `regions.${region}`)
    encoding.writeVarString(encoder, region)
    encoding.writeVarUint(encoder, ms === null ? 0 : ms + 1)
  }
}

export const readStatus = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): StatusMessage => {
  const at = decoder.pos
  const flags = readVarUintSafe(decoder)
  if (flags > 15 || ((flags & 4) !== 0 && (flags & 2) === 0)) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `status flags ${flags} at byte ${at}`)
  const home = readVarStringSafe(decoder, limits.maxStringBytes)
  const n = readVarUintSafe(decoder)
  if (n > MAX_STATUS_REGIONS) throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `status lists ${n} regions`)
  const entries: [string, number | null][] = []
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const region = readVarStringSafe(decoder, limits.maxStringBytes)
    const v = readVarUintSafe(decoder)
    if (seen.has(region)) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `region ${region} listed twice`)
    seen.add(region)
    entries.push([region, v === 0 ? null : v - 1])
  }
  // fromEntries defines own properties: a region named "__proto__" cannot reach the prototype.
  const regions = Object.fromEntries(entries)
  return {
    type: 'status',
    readOnly: (flags & 1) !== 0,
    homeRegion: home === '' ? null : home,
    homeRegionReachable: (flags & 2) === 0 ? null : (flags & 4) !== 0,
    regions,
    meshConfigured: (flags & 8) !== 0
  }
}

export const writeReplicated = (encoder: encoding.Encoder, regions: number, upTo: number): void => {
  checkVarUint(regions, 'regions')
  checkVarUint(upTo, 'upTo')
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, MERIDIAN_REPLICATED)
  encoding.writeVarUint(encoder, regions)
  encoding.writeVarUint(encoder, upTo)
}

export const readReplicated = (decoder: Decoder): ReplicatedMessage => ({
  type: 'replicated',
  regions: readVarUintSafe(decoder),
  upTo: readVarUintSafe(decoder)
})
