import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { openSqliteStorage } from '../src/index.js'
import { importFlag } from './fixtures/ts-hooks.mjs'

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))
const dirs: string[] = []

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Runs the writer until it has acknowledged `acks` appends, then SIGKILLs it mid-stream. */
function runAndKill(dataDir: string, acks: number): Promise<{ appended: number[]; compacted: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', '--import', importFlag, writer, dataDir], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const appended: number[] = []
    const compacted: number[] = []
    let stderr = ''
    let pending = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`writer too slow; stderr: ${stderr}`))
    }, 30_000)
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const [kind, value] = line.split(' ')
        ;(kind === 'compact' ? compacted : appended).push(Number(value))
      }
      if (appended.length >= acks && child.exitCode === null) child.kill('SIGKILL')
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve({ appended, compacted })
      else reject(new Error(`writer exited on its own (code ${code}); stderr: ${stderr}`))
    })
  })
}

it('acknowledged appends and compactions survive SIGKILL of the writing process', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-sqlite-crash-'))
  dirs.push(dataDir)
  const { appended, compacted } = await runAndKill(dataDir, 300)
  // The writer never closed: recovery has to come from the WAL it left behind.
  const wal = join(dataDir, 'meridian.sqlite3-wal')
  expect(existsSync(wal) && statSync(wal).size > 0).toBe(true)

  const adapter = openSqliteStorage({ dataDir })
  try {
    const doc = await adapter.load('crash')
    if (doc === null) throw new Error('document lost')
    const decoder = new TextDecoder()
    // Atomic compaction: the snapshot always matches snapshotSeq, at or past the last acked compaction.
    const snapshot = doc.snapshot === null ? 'snapshot through 0' : decoder.decode(doc.snapshot)
    expect(snapshot).toBe(`snapshot through ${doc.snapshotSeq}`)
    expect(doc.snapshotSeq).toBeGreaterThanOrEqual(compacted.at(-1) ?? 0)
    // No gaps: updates run contiguously from the snapshot to at least the last acked append.
    const seqs = doc.updates.map((u) => u.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => doc.snapshotSeq + 1 + i))
    expect(seqs.at(-1)).toBeGreaterThanOrEqual(appended.at(-1) ?? Infinity)
    for (const update of doc.updates) expect(decoder.decode(update.data)).toBe(`update ${update.seq - 1}`)
    // Seq numbering resumes after everything the dead process ever handed out.
    expect(await adapter.append('crash', new Uint8Array([1]))).toBe((seqs.at(-1) ?? 0) + 1)
  } finally {
    await adapter.close()
  }
})
