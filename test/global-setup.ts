import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Process-level tests spawn the real `meridian-relay` CLI, which runs compiled
 * JavaScript; unit tests use the TypeScript sources directly. Incremental, so
 * this is quick when nothing changed.
 */
export default function setup(): void {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', 'apps/relay'], { cwd: root, stdio: 'inherit' })
}
