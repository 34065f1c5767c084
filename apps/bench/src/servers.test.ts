import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { relayNodeArgs } from './servers.js'

describe('relayNodeArgs', () => {
  it('reads the node flags of the meridian-relay command (its bin), so the relay is measured as it ships', () => {
    expect(relayNodeArgs()).toContain('--max-semi-space-size=2')
  })

  it('throws on a file without the env shebang rather than measuring without flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-flags-'))
    try {
      const file = join(dir, 'main.js')
      writeFileSync(file, "import { randomUUID } from 'node:crypto'\n")
      expect(() => relayNodeArgs(file)).toThrow(/shebang/)
      writeFileSync(file, '#!/usr/bin/env -S node --max-semi-space-size=2 --stack-size=2000\n')
      expect(relayNodeArgs(file)).toEqual(['--max-semi-space-size=2', '--stack-size=2000'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
