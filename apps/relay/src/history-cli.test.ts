import { describe, expect, it } from 'vitest'
import { resolveRelayOptions } from '@meridian/relay'
import { MemoryStorageAdapter } from '@meridian/storage'
import { USAGE, parseCli, type CliConfig } from './cli-options.js'

const parse = (argv: string[], env: Record<string, string> = {}): CliConfig['history'] => {
  const config = parseCli(['--auth', 'none', ...argv], env)
  if (config === 'help') throw new Error('unexpected help')
  return config.history
}

describe('version history flags', () => {
  it('nothing given keeps the library defaults', () => {
    expect(parse([])).toEqual({})
  })

  it('retention and automatic-version timing from flags, MERIDIAN_* variables as fallback', () => {
    const history = parse(['--history-max-versions', '5', '--history-max-version-age-ms', '60000', '--history-quiet-ms', '1000'], {
      MERIDIAN_HISTORY_MAX_VERSIONS: '9',
      MERIDIAN_HISTORY_HARD_MAX_VERSIONS: '20',
      MERIDIAN_HISTORY_ACTIVITY_MIN_MS: '500'
    })
    expect(history).toEqual({ retention: { maxVersions: 5, maxVersionAgeMs: 60_000, hardMaxVersions: 20 }, autoVersions: { activityMinMs: 500, quietMs: 1000 } })
    // The relay takes them as they are (the rest from its defaults).
    const resolved = resolveRelayOptions({ storage: new MemoryStorageAdapter(), history }).history
    expect(resolved.retention).toMatchObject({ maxVersions: 5, maxVersionAgeMs: 60_000, hardMaxVersions: 20 })
    expect(resolved.autoVersions).toMatchObject({ activityMinMs: 500, quietMs: 1000 })
  })

  it('--history-auto-versions off (or MERIDIAN_HISTORY_AUTO_VERSIONS=off) turns automatic versions off', () => {
    expect(parse(['--history-auto-versions', 'off'])).toEqual({ autoVersions: false })
    expect(parse([], { MERIDIAN_HISTORY_AUTO_VERSIONS: 'off' })).toEqual({ autoVersions: false })
    expect(parse(['--history-auto-versions', 'on'], { MERIDIAN_HISTORY_AUTO_VERSIONS: 'off' })).toEqual({})
    expect(resolveRelayOptions({ storage: new MemoryStorageAdapter(), history: parse(['--history-auto-versions', 'off']) }).history.autoVersions).toBeNull()
  })

  it('refuses bad values', () => {
    expect(() => parse(['--history-auto-versions', 'maybe'])).toThrow(/on or off/)
    expect(() => parse(['--history-max-versions', '1.5'])).toThrow(/non-negative integer/)
    expect(() => parse([], { MERIDIAN_HISTORY_QUIET_MS: 'soon' })).toThrow(/--history-quiet-ms/)
    expect(() => parse(['--history-auto-versions', 'off', '--history-quiet-ms', '5'])).toThrow(/contradicts/)
  })

  it('--help lists them', () => {
    expect(USAGE).toContain('--history-max-versions <n>')
    expect(USAGE).toContain('--history-auto-versions on|off')
  })
})
