import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../apps/relay/dist/main.js', import.meta.url))

export interface RelayProcess {
  readonly url: string
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts the real `meridian-relay` CLI on an ephemeral loopback port and waits for its "listening on" line. */
export function startRelayProcess(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RelayProcess> {
  const child = spawn(process.execPath, [MAIN, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The CLI requires an explicit auth choice; tests get `none` unless they pass --auth or MERIDIAN_AUTH.
    env: { MERIDIAN_AUTH: 'none', ...process.env, ...options.env }
  })
  let out = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relay did not start within ${options.timeoutMs ?? 15_000} ms:\n${out}`))
    }, options.timeoutMs ?? 15_000)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const match = /listening on (ws:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve({
          url: match[1],
          child,
          output: () => out,
          exited,
          kill: (signal) => {
            child.kill(signal)
            return exited
          }
        })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`relay exited early (code ${code}, signal ${signal}):\n${out}`))
    })
  })
}
