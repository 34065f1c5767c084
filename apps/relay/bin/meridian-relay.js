#!/usr/bin/env -S node --max-semi-space-size=2
// The `meridian-relay` command. This file is committed, not built, so npm links it at install time even
// before `npm run build` (a bin pointing into dist/ is skipped when dist/ does not exist yet), and git
// keeps its execute bit. The node flags are part of the command: a 2 MiB young generation (semi-space)
// instead of V8's 16 MiB keeps a relay's RSS near its live heap (README, "Memory"); `npm start` and the
// benchmarks pass the same flags.
import { existsSync } from 'node:fs'

const main = new URL('../dist/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('meridian-relay: not built yet (no dist/main.js); run `npm run build` in the repository first\n')
  process.exit(1)
}
await import(main.href)
