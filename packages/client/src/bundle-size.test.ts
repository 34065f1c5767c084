import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

/**
 * The size budget of `@meridian/client` (issue #18): each entry bundled as the
 * peers are measured in `npm run bench -- bundle` (esbuild, minified, browser
 * ESM, `yjs` external, lib0 and y-protocols bundled; gzip level 9). Bytes, never
 * time. A budget is the figure this commit reached plus a small margin: growing
 * past it needs a reason, and then a new budget here.
 */
const BUDGETS_GZIP_BYTES: Readonly<Record<string, number>> = {
  // 16,240 B on 2026-12-02, then 17,197 B with the refused-write path (writes a relay refuses for what
  // they do, e.g. deleting from a history document), 15,202 B with holding them moved to /refused-writes
  // (a fail-stop gate stays); issue #18's target is 12 KB (README, "Bundle size").
  '@meridian/client': 15_500,
  '@meridian/client/policy': 5_500,
  '@meridian/client/digest': 6_000,
  '@meridian/client/presence': 2_700,
  '@meridian/client/cross-tab': 1_000,
  // 4,679 B: the holding write gate and the withheld-writes bookkeeping (with the errors and close codes it needs).
  '@meridian/client/refused-writes': 4_800,
  // 21,636 B on 2026-12-02: the provider (the default entry) and ~4.4 KB of multiplexing (issue #21); 22,114 B
  // once it holds refused writes by default (the holding gate, and the default entry's fail-stop gate beside it).
  '@meridian/client/multiplex': 22_500
}

/** Far below any real figure: a bundle smaller than this lost its code (a broken build or entry). */
const FLOORS_GZIP_BYTES: Readonly<Record<string, number>> = { '@meridian/client/cross-tab': 500 }
const DEFAULT_FLOOR_GZIP_BYTES = 1_000

const root = fileURLToPath(new URL('../../../', import.meta.url))

async function gzipBytes(entry: string): Promise<number> {
  const result = await build({
    stdin: { contents: `export * from '${entry}'`, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    external: ['yjs'],
    write: false,
    logLevel: 'silent',
    plugins: [{
      // Workspace packages from their sources, as vitest resolves them (no build needed).
      name: 'workspace-sources',
      setup(b) {
        b.onResolve({ filter: /^@meridian\/[a-z-]+(\/[a-z-]+)?$/ }, (args) => {
          const [pkg, sub] = args.path.slice('@meridian/'.length).split('/') as [string, string | undefined]
          return { path: `${root}packages/${pkg}/src/${sub ?? 'index'}.ts` }
        })
      }
    }]
  })
  return gzipSync((result.outputFiles[0] as { contents: Uint8Array }).contents, { level: 9 }).byteLength
}

describe('bundle size budget', () => {
  for (const [entry, budget] of Object.entries(BUDGETS_GZIP_BYTES)) {
    it(`${entry} stays within ${budget} bytes gzip`, async () => {
      const bytes = await gzipBytes(entry)
      expect(bytes, `${entry} is ${bytes} B gzip`).toBeLessThanOrEqual(budget)
      expect(bytes).toBeGreaterThan(FLOORS_GZIP_BYTES[entry] ?? DEFAULT_FLOOR_GZIP_BYTES)
    })
  }
})
