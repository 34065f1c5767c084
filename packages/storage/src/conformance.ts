/**
 * The storage adapter conformance suite (automerge-repo style): every adapter's
 * test file calls `runStorageConformance` once, so all adapters are held to the
 * same contract. Imports vitest, hence its own subpath
 * (`@meridian/storage/conformance`) and no re-export from the package index.
 *
 * @example
 * runStorageConformance('MyAdapter', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'my-adapter-'))
 *   return {
 *     adapter: openMyAdapter(dir),
 *     reopen: async () => openMyAdapter(dir),
 *     cleanup: () => rm(dir, { recursive: true, force: true })
 *   }
 * })
 */
import { describe } from 'vitest'
import { registerAppendManyCases } from './conformance-append-many.js'
import { registerBasicCases } from './conformance-basics.js'
import { registerCompactionCases } from './conformance-compaction.js'
import { useHarness } from './conformance-harness.js'
import type { ConformanceFactory } from './conformance-harness.js'
import { registerDurabilityCases, registerLifecycleCases } from './conformance-lifecycle.js'
import { registerYjsCases } from './conformance-yjs.js'
import { registerMeshMemberCases } from './conformance-mesh-members.js'
import { registerChangeFeedCases } from './conformance-change-feed.js'
import { registerDocIndexCases } from './conformance-doc-index.js'

export type { ConformanceFactory, ConformanceFixture } from './conformance-harness.js'

/**
 * Registers a `describe` block with the whole suite. `factory` runs before every
 * test and must return an adapter over empty storage; adapters it returns (and
 * any reopened ones) are closed after each test, then `cleanup` runs.
 */
export function runStorageConformance(name: string, factory: ConformanceFactory): void {
  describe(`${name} — storage conformance`, () => {
    const harness = useHarness(factory)
    describe('append / load / list / remove', () => registerBasicCases(harness))
    describe('appendMany (optional group commit)', () => registerAppendManyCases(harness))
    describe('compaction', () => registerCompactionCases(harness))
    describe('close and argument validation', () => registerLifecycleCases(harness))
    describe('durability (needs reopen)', () => registerDurabilityCases(harness))
    describe('Yjs round trip', () => registerYjsCases(harness))
    describe('mesh members (optional)', () => registerMeshMemberCases(harness))
    describe('change feed, cursors and leases (optional)', () => registerChangeFeedCases(harness))
    describe('document listing and tombstones (optional)', () => registerDocIndexCases(harness))
  })
}
