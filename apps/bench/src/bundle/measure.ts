/**
 * Bundle sizes as the peers were measured (issue #18): esbuild, minified,
 * `format: 'esm'`, `platform: 'browser'`, `yjs` external (every app has it
 * already); lib0 and y-protocols are bundled, as y-websocket bundles the parts it
 * uses, so each figure carries the same helpers. gzip at level 9.
 * The size budget test (packages/client/src/bundle-size.test.ts) uses the same settings.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'

export interface BundleFigure {
  /** What was bundled, e.g. `@meridian/client` or `y-websocket + y-indexeddb`. */
  label: string
  rawBytes: number
  gzipBytes: number
}

/** Workspace packages from their TypeScript sources (as vitest resolves them), so no build is needed. */
function workspaceSources(repoRoot: string): Plugin {
  return {
    name: 'meridian-workspace-sources',
    setup(b) {
      b.onResolve({ filter: /^@meridian\/[a-z-]+(\/[a-z-]+)?$/ }, (args) => {
        const [, pkg, sub] = /^@meridian\/([a-z-]+)(?:\/([a-z-]+))?$/.exec(args.path) as unknown as [string, string, string | undefined]
        return { path: join(repoRoot, 'packages', pkg, 'src', `${sub ?? 'index'}.ts`) }
      })
    }
  }
}

/** Bundles `source` (an ES module re-exporting what is measured) and returns its sizes. */
export async function measureBundle(repoRoot: string, label: string, source: string): Promise<BundleFigure> {
  const result = await build({
    stdin: { contents: source, resolveDir: join(repoRoot, 'apps', 'bench'), loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    external: ['yjs'],
    write: false,
    logLevel: 'silent',
    plugins: [workspaceSources(repoRoot)]
  })
  const output = (result.outputFiles[0] as { contents: Uint8Array }).contents
  return { label, rawBytes: output.byteLength, gzipBytes: gzipSync(output, { level: 9 }).byteLength }
}

/** Every entry `@meridian/client` publishes (its package.json `exports`), the default one first. */
export function clientEntries(repoRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'packages', 'client', 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
  return Object.keys(pkg.exports).map((key) => (key === '.' ? '@meridian/client' : `@meridian/client/${key.slice(2)}`))
}

/**
 * What apps import, bundled as an app would (named imports, so the rest is shaken
 * out): the like-for-like figure next to the peers, whose figures include their
 * offline store.
 */
export const COMPOSITIONS: readonly { label: string; source: string; note: string }[] = [
  {
    label: 'provider + indexedDbStore()',
    source: "export { MeridianProvider } from '@meridian/client'\nexport { indexedDbStore } from '@meridian/client/store'",
    note: 'an offline-first app: sync, failover, durability levels and the IndexedDB store (compare with y-websocket + y-indexeddb)'
  },
  {
    label: 'the editor demo\'s imports',
    source: [
      "export { MeridianProvider } from '@meridian/client'",
      "export { indexedDbStore } from '@meridian/client/store'",
      "export { policyEngine } from '@meridian/client/policy'",
      "export { deleteDigest } from '@meridian/client/digest'",
      "export { presence } from '@meridian/client/presence'",
      "export { crossTabSharing } from '@meridian/client/cross-tab'",
      "export { holdRefusedWrites } from '@meridian/client/refused-writes'"
    ].join('\n'),
    note: 'plus the policy engine, the delete digest, presence, cross-tab sharing and held refused writes'
  }
]

export interface Peer {
  label: string
  /** The peer's entry, what an app imports to get sync and offline storage. */
  source: string
  /** From the issue text (esbuild, minified, browser ESM, yjs external), shown when the peer cannot be bundled here. */
  issueGzipBytes: number
}

export const PEERS: readonly Peer[] = [
  {
    label: 'y-websocket + y-indexeddb',
    source: "export { WebsocketProvider } from 'y-websocket'\nexport { IndexeddbPersistence } from 'y-indexeddb'",
    issueGzipBytes: 6_500
  },
  // Its offline store (offlineSupport, IndexedDB) is part of the one entry.
  { label: '@y-sweet/client', source: "export * from '@y-sweet/client'", issueGzipBytes: 7_300 },
  { label: '@hocuspocus/provider', source: "export * from '@hocuspocus/provider'", issueGzipBytes: 8_900 }
]

/** The versions bundled, for the report. */
export function peerVersion(repoRoot: string, name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}
