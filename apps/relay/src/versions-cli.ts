/**
 * `meridian-relay docs versions ls|create|get|diff|restore`: a document's
 * version history (README "Version history") through a running relay's HTTP
 * API (`/v1/docs/:name/versions…`), with `--url` / MERIDIAN_URL and
 * `--token` / MERIDIAN_ADMIN_TOKEN like the other `docs` commands (docs-cli.ts
 * dispatches here).
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

export const VERSIONS_USAGE = `Usage: meridian-relay docs versions <command> [options]

Against a running relay (--url, and --token or MERIDIAN_ADMIN_TOKEN: the admin token or a JWT):
  ls <doc> [--json]                         the versions, oldest first (id, kind, time, author, label)
  create <doc> [--label L] [--json] [--wait-for replicated:<k>] [--timeout-ms n]
                                            take a named version; prints its id (--json: the whole answer)
  get <doc> <id> [--json] [--out file]      the version as a Yjs update (--json: its content as JSON)
  diff <doc> <id> [--against <id|now>]      what changed from version <id> to <against> (default now), as JSON
  restore <doc> <id> [--wait-for replicated:<k>] [--timeout-ms n]
                                            restore it as a new change (a pre-restore version is taken first)

Options:
  --url <url>          the relay, e.g. http://127.0.0.1:8080 (MERIDIAN_URL)
  --token <t>          bearer token (MERIDIAN_ADMIN_TOKEN)
  --help               print this and exit
`

/** What the commands need of the relay's HTTP API (docs-cli.ts's client; errors carry the relay's code). */
export interface VersionsApi {
  /** A JSON answer; a string body is sent as JSON. */
  json(method: string, path: string, body?: Uint8Array | string): Promise<unknown>
  bytes(path: string): Promise<Uint8Array>
}

export interface VersionsCliIo {
  out: (s: string) => void
  outBytes: (b: Uint8Array) => void
  err: (s: string) => void
}

/** A command line `docs versions` cannot run (exit code 2). */
export class VersionsUsageError extends Error {
  readonly code = 'ERR_CLI_USAGE'
}

const COMMANDS = ['ls', 'create', 'get', 'diff', 'restore'] as const
type Command = (typeof COMMANDS)[number]
const isCommand = (c: string | undefined): c is Command => COMMANDS.includes(c as Command)

/** Parses a `docs versions` command line without running it; throws VersionsUsageError. */
export function parseVersionsArgs(argv: string[]) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, label: { type: 'string' }, against: { type: 'string' },
        out: { type: 'string' }, 'wait-for': { type: 'string' }, 'timeout-ms': { type: 'string' }, help: { type: 'boolean' }
      }
    })
  } catch (e) {
    throw new VersionsUsageError((e as Error).message)
  }
  const [command, doc, id, ...extra] = parsed.positionals
  const v = parsed.values
  if (v.help === true) return { help: true as const }
  if (!isCommand(command)) throw new VersionsUsageError(`unknown command ${JSON.stringify(command ?? '')}`)
  if (doc === undefined || doc === '') throw new VersionsUsageError(`${command} needs a document name`)
  const needsId = command === 'get' || command === 'diff' || command === 'restore'
  if (needsId && (id === undefined || id === '')) throw new VersionsUsageError(`${command} needs a version id`)
  const unexpected = needsId ? extra : [...(id !== undefined ? [id] : []), ...extra]
  if (unexpected.length > 0) throw new VersionsUsageError(`unexpected ${unexpected.join(' ')}`)
  return { help: false as const, command, doc, id: id ?? '', values: v }
}

/** Runs `docs versions …`; returns the exit code (0 done, 1 failed, 2 bad usage). */
export async function versionsCommand(argv: string[], env: Record<string, string | undefined>, io: VersionsCliIo, connect: (url: string, token: string | undefined) => VersionsApi): Promise<number> {
  const usage = (message: string): number => {
    io.err(`meridian-relay docs versions: ${message}\n\n${VERSIONS_USAGE}`)
    return 2
  }
  let parsed
  try {
    parsed = parseVersionsArgs(argv)
  } catch (e) {
    return usage((e as Error).message)
  }
  if (parsed.help) {
    io.out(VERSIONS_USAGE)
    return 0
  }
  const { command, values: v } = parsed
  const url = (v.url ?? env.MERIDIAN_URL)?.replace(/\/+$/, '')
  if (url === undefined) return usage('give --url (or MERIDIAN_URL)')
  const api = connect(url, v.token ?? env.MERIDIAN_ADMIN_TOKEN)
  const base = `/v1/docs/${encodeURIComponent(parsed.doc)}/versions`
  const id = encodeURIComponent(parsed.id)
  const query = new URLSearchParams()
  if (v['wait-for'] !== undefined) query.set('waitFor', v['wait-for'])
  if (v['timeout-ms'] !== undefined) query.set('timeoutMs', v['timeout-ms'])
  const qs = query.size > 0 ? `?${query.toString()}` : ''
  try {
    switch (command) {
      case 'ls': {
        const { versions } = (await api.json('GET', base)) as { versions: { id: string; kind: string; createdAt: string; author: string; label: string }[] }
        for (const x of versions) io.out(v.json === true ? `${JSON.stringify(x)}\n` : `${x.id}\t${x.kind}\t${x.createdAt}\t${x.author}\t${x.label}\n`)
        return 0
      }
      case 'create': {
        const answer = (await api.json('POST', `${base}${qs}`, JSON.stringify(v.label !== undefined ? { label: v.label } : {}))) as DurabilityAnswer & { version: { id: string } }
        io.out(v.json === true ? `${JSON.stringify(answer)}\n` : `${answer.version.id}\n`)
        io.err(`version ${answer.version.id} taken: ${describe(answer)}\n`)
        return 0
      }
      case 'get':
        if (v.json === true) await output(v.out, `${JSON.stringify(((await api.json('GET', `${base}/${id}?format=json`)) as { content: unknown }).content, null, 2)}\n`, io)
        else await output(v.out, await api.bytes(`${base}/${id}`), io)
        return 0
      case 'diff': {
        const against = encodeURIComponent(v.against ?? 'now')
        io.out(`${JSON.stringify(await api.json('GET', `${base}/${id}/diff?against=${against}`), null, 2)}\n`)
        return 0
      }
      case 'restore': {
        const answer = (await api.json('POST', `${base}/${id}/restore${qs}`)) as DurabilityAnswer
        io.out(`${JSON.stringify(answer)}\n`)
        io.err(`restored ${parsed.id}: ${describe(answer)}\n`)
        return 0
      }
    }
  } catch (e) {
    io.err(`meridian-relay docs versions: ${(e as Error).message}\n`)
    return 1
  }
}

interface DurabilityAnswer {
  durability: 'relay' | 'region' | { replicated: number }
  waitFor?: { replicated: number; satisfied: boolean }
}

/** The durability of an answer in words, e.g. "replicated(1)", and whether the replication asked for was reached. */
function describe(answer: DurabilityAnswer): string {
  const d = answer.durability
  const reached = typeof d === 'string' ? d : `replicated(${d.replicated})`
  if (answer.waitFor === undefined) return reached
  return answer.waitFor.satisfied ? `${reached}, as asked` : `${reached}; replicated(${answer.waitFor.replicated}) was not reached in time`
}

async function output(path: string | undefined, data: string | Uint8Array, io: VersionsCliIo): Promise<void> {
  if (path !== undefined && path !== '-') await writeFile(path, data)
  else if (typeof data === 'string') io.out(data)
  else io.outBytes(data)
}
