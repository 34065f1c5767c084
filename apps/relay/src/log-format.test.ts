import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { prettyDestination, prettyLine, resolveLogFormat } from './log-format.js'
import { CliError, parseCli } from './cli-options.js'

describe('log format', () => {
  it('is JSON when stdout is not a terminal, readable when it is, unless chosen', () => {
    expect(resolveLogFormat('auto', false)).toBe('json')
    expect(resolveLogFormat('auto', true)).toBe('pretty')
    expect(resolveLogFormat('json', true)).toBe('json')
    expect(resolveLogFormat('pretty', false)).toBe('pretty')
  })

  it('--log-format and MERIDIAN_LOG_FORMAT choose it; anything else is a usage error', () => {
    const parse = (argv: string[], env: Record<string, string> = {}): unknown => {
      const config = parseCli(['--auth', 'none', ...argv], env)
      return config === 'help' ? config : config.logFormat
    }
    expect(parse([])).toBe('auto')
    expect(parse(['--log-format', 'pretty'])).toBe('pretty')
    expect(parse([], { MERIDIAN_LOG_FORMAT: 'json' })).toBe('json')
    expect(parse(['--log-format', 'json'], { MERIDIAN_LOG_FORMAT: 'pretty' })).toBe('json')
    expect(() => parse(['--log-format', 'yaml'])).toThrow(CliError)
  })

  it('a readable line carries every field of the JSON line', () => {
    const json: string[] = []
    const pretty: string[] = []
    const record = { url: 'ws://127.0.0.1:4321', nodeId: 'eu-1', storage: 'sqlite in /var/lib/meridian', conns: 3, tls: false }
    pino({ base: { region: 'eu' } }, { write: (l: string) => json.push(l) }).info(record, 'listening on ws://127.0.0.1:4321 as eu-1 (eu)')
    pino({ base: { region: 'eu' } }, prettyDestination((t) => pretty.push(t))).info(record, 'listening on ws://127.0.0.1:4321 as eu-1 (eu)')
    const line = pretty.join('')
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  listening on ws:\/\/127\.0\.0\.1:4321 as eu-1 \(eu\) /)
    const fields = JSON.parse(json[0] ?? '{}') as Record<string, unknown>
    for (const [key, value] of Object.entries(fields)) {
      if (key === 'time' || key === 'level' || key === 'msg') continue
      expect(line).toContain(`${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`)
    }
    expect(line.split('\n')).toHaveLength(2) // one line and its newline
    expect(/listening on (ws:\/\/\S+)/.exec(json[0] ?? '')?.[1]).toBe('ws://127.0.0.1:4321')
  })

  it('an error shows its type, message, code and stack', () => {
    const err = Object.assign(new Error('disk full'), { code: 'ERR_STORAGE' })
    const out: string[] = []
    pino({}, prettyDestination((t) => out.push(t))).error({ err }, 'append failed')
    const text = out.join('')
    expect(text).toContain('ERROR append failed err="Error: disk full" err.code=ERR_STORAGE')
    expect(text).toMatch(/\n {4}at /)
  })

  it('a line that is not JSON passes through unchanged', () => {
    expect(prettyLine('plain text')).toBe('plain text\n')
    expect(prettyLine('[1,2]\n')).toBe('[1,2]\n')
  })
})
