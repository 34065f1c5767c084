/**
 * CLI flags and MERIDIAN_* variables for version history (README "Version
 * history"), mapped to the relay's HistoryOptions: retention and the
 * automatic-version policy. Flags win over environment variables, which win
 * over the library defaults (DEFAULT_RETENTION, DEFAULT_AUTO_VERSION_OPTIONS).
 */
import { DEFAULT_AUTO_VERSION_OPTIONS, DEFAULT_RETENTION, type HistoryOptions } from '@meridian/relay'
import { CliError } from './cli-error.js'

/** Merged into the CLI's parseArgs options. */
export const HISTORY_PARSE_OPTIONS = {
  'history-max-versions': { type: 'string' },
  'history-max-version-age-ms': { type: 'string' },
  'history-hard-max-versions': { type: 'string' },
  'history-auto-versions': { type: 'string' },
  'history-activity-min-ms': { type: 'string' },
  'history-quiet-ms': { type: 'string' },
  'history-max-activity-ms': { type: 'string' }
} as const

const R = DEFAULT_RETENTION
const A = DEFAULT_AUTO_VERSION_OPTIONS

export const HISTORY_USAGE = `
Version history (README "Version history"; MERIDIAN_ + the flag name in upper snake case, e.g. MERIDIAN_HISTORY_MAX_VERSIONS):
  --history-max-versions <n>        automatic versions kept per document (default ${R.maxVersions})
  --history-max-version-age-ms <n>  automatic versions older than this are removed (default ${R.maxVersionAgeMs})
  --history-hard-max-versions <n>   versions of any kind kept; named ones go only beyond it (default ${R.hardMaxVersions})
  --history-auto-versions on|off    take automatic versions (default on)
  --history-activity-min-ms <n>     changes must span this long to be worth an automatic version (default ${A.activityMinMs})
  --history-quiet-ms <n>            …followed by this long without a change (default ${A.quietMs})
  --history-max-activity-ms <n>     one anyway after this long of changes without a pause (default ${A.maxActivityMs})
`

const envName = (flag: string): string => `MERIDIAN_${flag.replace(/-/g, '_').toUpperCase()}`

export function parseHistory(values: Record<string, unknown>, env: Record<string, string | undefined>): HistoryOptions {
  const str = (flag: string): string | undefined => {
    const v = values[flag]
    return typeof v === 'string' ? v : env[envName(flag)]
  }
  const int = (flag: string): number | undefined => {
    const text = str(flag)
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new CliError(`--${flag} must be a non-negative integer, got "${text}"`)
    return Number(text)
  }
  const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
  const retention = defined({ maxVersions: int('history-max-versions'), maxVersionAgeMs: int('history-max-version-age-ms'), hardMaxVersions: int('history-hard-max-versions') })
  const timing = defined({ activityMinMs: int('history-activity-min-ms'), quietMs: int('history-quiet-ms'), maxActivityMs: int('history-max-activity-ms') })
  const auto = str('history-auto-versions') ?? 'on'
  if (auto !== 'on' && auto !== 'off') throw new CliError(`--history-auto-versions must be on or off, got "${auto}"`)
  if (auto === 'off' && Object.keys(timing).length > 0) throw new CliError('--history-auto-versions off contradicts the automatic-version timing flags given')
  const out: HistoryOptions = {}
  if (Object.keys(retention).length > 0) out.retention = retention
  if (auto === 'off') out.autoVersions = false
  else if (Object.keys(timing).length > 0) out.autoVersions = timing
  return out
}
