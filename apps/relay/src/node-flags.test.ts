import { readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8')

/** The node flags of the `meridian-relay` shebang (`#!/usr/bin/env -S node <flags>`). */
function shebangFlags(): string[] {
  const first = read('../bin/meridian-relay.js').split('\n', 1)[0] ?? ''
  const match = /^#!\/usr\/bin\/env -S node((?: --\S+)*)$/.exec(first)
  if (match === null) throw new Error(`unexpected shebang: ${first}`)
  return (match[1] ?? '').split(' ').filter((a) => a.length > 0)
}

describe('node flags of the relay command', () => {
  it('the bin sets a small young generation (README, "Memory")', () => {
    expect(shebangFlags()).toContain('--max-semi-space-size=2')
  })

  it('the bin is committed with its execute bit (npm links it before `npm run build`)', () => {
    const mode = statSync(fileURLToPath(new URL('../bin/meridian-relay.js', import.meta.url))).mode
    expect(mode & 0o111).toBe(0o111)
    const app = JSON.parse(read('../package.json')) as { bin: Record<string, string> }
    expect(app.bin).toEqual({ 'meridian-relay': './bin/meridian-relay.js' })
  })

  it('`npm start` (root and apps/relay) runs node with the same flags as the bin', () => {
    const flags = shebangFlags().join(' ')
    const root = JSON.parse(read('../../../package.json')) as { scripts: Record<string, string> }
    const app = JSON.parse(read('../package.json')) as { scripts: Record<string, string> }
    expect(root.scripts.start).toContain(`node ${flags} apps/relay/dist/main.js`)
    expect(app.scripts.start).toContain(`node ${flags} dist/main.js`)
  })
})
