/**
 * How the CLI writes its logs: pino JSON lines for machines (stdout is a pipe or file, or
 * `--log-format json`), readable lines for people (a terminal, or `--log-format pretty`). Both carry the
 * same fields: the pretty form is rendered from the very JSON line pino produced.
 */
import { inspect } from 'node:util'

export type LogFormat = 'json' | 'pretty'
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty']

/** `auto` (no flag, no MERIDIAN_LOG_FORMAT): pretty on a terminal, JSON otherwise. */
export function resolveLogFormat(choice: LogFormat | 'auto', stdoutIsTty: boolean): LogFormat {
  switch (choice) {
    case 'json':
    case 'pretty':
      return choice
    case 'auto':
      return stdoutIsTty ? 'pretty' : 'json'
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Fields the line's prefix shows; every other field follows as key=value. */
const PREFIX_FIELDS = new Set(['time', 'level', 'msg', 'pid', 'hostname'])

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return inspect(value, { depth: 4, breakLength: Infinity, compact: true })
}

/**
 * One pino JSON line as a readable line: `12:04:05.123 INFO  relay started url=ws://… nodeId=eu-1`, then
 * an error's stack indented below it. A line that is not JSON (it should not happen) is returned as it is.
 */
export function prettyLine(jsonLine: string): string {
  let record: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(jsonLine)
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`
    record = parsed as Record<string, unknown>
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`
  }
  const time = typeof record.time === 'number' ? new Date(record.time) : null
  const clock = time === null ? '--:--:--.---' : `${pad2(time.getHours())}:${pad2(time.getMinutes())}:${pad2(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`
  const level = typeof record.level === 'number' ? LEVEL_NAMES[record.level] ?? `L${record.level}` : String(record.level ?? '')
  const parts = [clock, level.padEnd(5), typeof record.msg === 'string' ? record.msg : '']
  let stack = ''
  for (const [key, value] of Object.entries(record)) {
    if (PREFIX_FIELDS.has(key)) continue
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { type?: unknown; message?: unknown; stack?: unknown; code?: unknown }
      parts.push(`err=${formatValue(`${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`)}`)
      if (err.code !== undefined) parts.push(`err.code=${formatValue(err.code)}`)
      if (typeof err.stack === 'string') stack = err.stack.split('\n').slice(1).map((l) => `    ${l.trim()}\n`).join('')
      continue
    }
    parts.push(`${key}=${formatValue(value)}`)
  }
  return `${parts.filter((p) => p.length > 0).join(' ')}\n${stack}`
}

/** A pino destination that writes readable lines to `write` (pino calls `write` once per JSON line). */
export function prettyDestination(write: (text: string) => void): { write: (line: string) => void } {
  return { write: (line) => write(prettyLine(line)) }
}
