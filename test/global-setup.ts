import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Process-level tests spawn the real `meridian-relay` CLI, which runs compiled
 * JavaScript; unit tests use the TypeScript sources directly. Incremental, so
 * this is quick when nothing changed. In CI a failed build fails the run; on a
 * developer's machine (mid-edit) it only warns, so unit tests still run.
 */
export default function setup(): void {
  try {
    execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', 'apps/relay'], { cwd: root, stdio: 'pipe' })
  } catch (err) {
    const output = String((err as { stdout?: Buffer }).stdout ?? '')
    if (process.env.CI === 'true') throw new Error(`building apps/relay failed:\n${output}`)
    console.warn(`warning: building apps/relay failed; process-level tests use whatever apps/relay/dist holds:\n${output}`)
  }
}
