/**
 * CLI flags for storage and the region bus: `--storage sqlite|postgres://...`
 * and `--bus redis://...` (MERIDIAN_STORAGE, MERIDIAN_BUS). Flags win over
 * environment variables; the default is SQLite in --data-dir and no bus.
 */
import { CliError } from './cli-error.js'

/** Merged into the CLI's parseArgs options. */
export const REGION_PARSE_OPTIONS = {
  storage: { type: 'string' },
  bus: { type: 'string' }
} as const

export const REGION_USAGE = `
Storage and the region bus (several relays per region, behind one load balancer):
  --storage <s>                   sqlite (in --data-dir), or a PostgreSQL URL shared by the relays of a region,
                                  e.g. postgres://meridian@db:5432/meridian?schema=meridian (MERIDIAN_STORAGE, default sqlite)
  --bus <url>                     Redis Streams bus between the relays of a region, e.g. redis://cache:6379/0;
                                  ?prefix=<p> sets the key prefix (default meridian:<region>:). Needs PostgreSQL storage (MERIDIAN_BUS)
`

export type StorageConfig = { kind: 'sqlite' } | { kind: 'postgres'; url: string }

export interface RegionConfig {
  storage: StorageConfig
  /** Redis URL of the region bus; undefined: this relay is alone in its region. */
  bus: string | undefined
}

export function parseRegion(values: Record<string, unknown>, env: Record<string, string | undefined>): RegionConfig {
  const storageText = stringValue(values.storage) ?? nonEmpty(env.MERIDIAN_STORAGE) ?? 'sqlite'
  let storage: StorageConfig
  if (storageText === 'sqlite') storage = { kind: 'sqlite' }
  else if (/^postgres(ql)?:\/\//.test(storageText)) storage = { kind: 'postgres', url: storageText }
  else throw new CliError(`--storage must be "sqlite" or a postgres:// URL, got "${redactUrl(storageText)}"`)

  const bus = stringValue(values.bus) ?? nonEmpty(env.MERIDIAN_BUS)
  if (bus !== undefined) {
    if (!/^rediss?:\/\//.test(bus)) throw new CliError(`--bus must be a redis:// or rediss:// URL, got "${redactUrl(bus)}"`)
    // The bus carries updates the publisher already stored in the storage every relay reads:
    // with per-relay SQLite files, a relay would never store what it got from the bus.
    if (storage.kind !== 'postgres') throw new CliError('--bus needs storage shared by the relays of the region (--storage postgres://...)')
  }
  return { storage, bus }
}

/** The default bus key prefix keeps regions apart if they ever share a Redis. */
export function defaultBusPrefix(region: string): string {
  return `meridian:${region}:`
}

function stringValue(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value
}

/** Never echo a password from a URL in an error message. */
function redactUrl(text: string): string {
  try {
    const url = new URL(text)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return text.length > 80 ? `${text.slice(0, 80)}…` : text
  }
}
