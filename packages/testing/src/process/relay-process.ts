import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KitError } from '../assertions.js'

export interface RelayExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface RelayProcess {
  /** `ws://127.0.0.1:<port>` as the relay printed it. */
  readonly url: string
  readonly child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string
  /** True until the process exited. */
  readonly running: boolean
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<RelayExit>
  kill(signal: NodeJS.Signals): Promise<RelayExit>
}

export interface RelayProcessOptions {
  /** The CLI's entry script (`meridian-relay`'s `dist/main.js`). Default: `resolveRelayMain()`. */
  relayMain?: string
  /** Give up (SIGKILL) when the relay has not printed its "listening on" line after this long. Default 15 s. */
  timeoutMs?: number
  /** Extra environment variables (the parent's environment is inherited). */
  env?: Readonly<Record<string, string>>
  /** `--log-level` unless `args` sets it. Default `warn`. */
  logLevel?: string
}

let resolvedMain: string | undefined

/**
 * Where the `meridian-relay` CLI is: the `@meridian/cli` package's bin as
 * Node resolves it from this kit, else (in Meridian's own monorepo) the built
 * `apps/relay`. Throws ERR_CLUSTER_OPTIONS saying how to pass it otherwise.
 */
export function resolveRelayMain(): string {
  if (resolvedMain !== undefined) return resolvedMain
  const tried: string[] = []
  try {
    const pkgPath = createRequire(import.meta.url).resolve('@meridian/cli/package.json')
    // The built entry the bin (bin/meridian-relay.js) imports: spawned with node directly, as before the shim.
    const main = join(dirname(pkgPath), 'dist/main.js')
    if (existsSync(main)) return (resolvedMain = main)
    tried.push(`${main} (package found, not built)`)
  } catch {
    tried.push('the @meridian/cli package (not resolvable from @meridian/testing)')
  }
  // src/process/ and dist/process/ are both four levels below the monorepo root.
  const inRepo = fileURLToPath(new URL('../../../../apps/relay/dist/main.js', import.meta.url))
  if (existsSync(inRepo)) return (resolvedMain = inRepo)
  tried.push(inRepo)
  throw new KitError(
    'ERR_CLUSTER_OPTIONS',
    `cannot find the meridian-relay CLI (tried ${tried.join('; ')}). Install @meridian/cli, or pass relayMain: '/path/to/@meridian/cli/dist/main.js'`
  )
}

/**
 * Starts the real `meridian-relay` CLI on loopback (port 0 unless `args` sets
 * `--port`) and resolves once it prints "listening on". Later flags win, so
 * `args` may override the defaults. Auth is `none` unless `args` or `env` choose.
 */
export function startRelayProcess(args: readonly string[], options: RelayProcessOptions = {}): Promise<RelayProcess> {
  const main = options.relayMain ?? resolveRelayMain()
  const timeoutMs = options.timeoutMs ?? 15_000
  const child = spawn(process.execPath, [main, '--host', '127.0.0.1', '--port', '0', '--log-level', options.logLevel ?? 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The CLI requires an explicit auth choice; tests get `none` unless they pass --auth or MERIDIAN_AUTH.
    env: { MERIDIAN_AUTH: 'none', ...process.env, ...options.env }
  })
  let out = ''
  let running = true
  const exited = new Promise<RelayExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false
      resolve({ code, signal })
    })
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relay did not start within ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const match = /listening on (ws:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.on('data', (more: Buffer) => {
          out += more.toString()
        })
        resolve({
          url: match[1],
          child,
          output: () => out,
          get running() {
            return running
          },
          exited,
          kill: (signal) => {
            if (running) child.kill(signal)
            return exited
          }
        })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`relay could not be spawned (${main}): ${err.message}`))
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`relay exited early (code ${code}, signal ${signal}):\n${out}`))
    })
  })
}
