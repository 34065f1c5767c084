/**
 * `npm run bench -- bundle [--snapshot]`: the size of `@meridian/client` (its
 * default entry and each optional entry) next to the peers', measured the same
 * way in the same run (see measure.ts). Bytes, not time: one run is enough.
 * `--snapshot` rewrites the bundle section of apps/bench/RESULTS.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BENCH_ROOT, REPO_ROOT } from '../servers.js'
import { COMPOSITIONS, PEERS, clientEntries, measureBundle, peerVersion, type BundleFigure } from './measure.js'
import { BUNDLE_SECTION_END, BUNDLE_SECTION_START, withBundleSection } from './section.js'

/** The default entry's target from issue #18 (also the budget in packages/client/src/bundle-size.test.ts). */
const TARGET_GZIP_BYTES = 12 * 1024

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

interface Row { figure: BundleFigure | null; note: string }

async function main(): Promise<void> {
  const rows: Row[] = []
  const entries = clientEntries(REPO_ROOT)
  const [defaultEntry] = entries
  for (const entry of entries) {
    const figure = await measureBundle(REPO_ROOT, entry, `export * from '${entry}'`)
    rows.push({ figure, note: entry === defaultEntry ? 'default entry: everything it exports' : 'optional entry, alone' })
  }
  if (entries.length > 1) {
    const all = entries.map((e) => `export * from '${e}'`).join('\n')
    rows.push({ figure: await measureBundle(REPO_ROOT, '@meridian/client, every entry', all), note: 'every entry together (shared code counted once)' })
  }
  for (const c of COMPOSITIONS) rows.push({ figure: await measureBundle(REPO_ROOT, c.label, c.source), note: c.note })
  const peerRows: Row[] = []
  for (const peer of PEERS) {
    const versions = peer.label.split(' + ').map((name) => `${name} ${peerVersion(REPO_ROOT, name) ?? '?'}`).join(', ')
    try {
      peerRows.push({ figure: await measureBundle(REPO_ROOT, peer.label, peer.source), note: versions })
    } catch (error) {
      // Not installed here: the figure from the issue text, labelled as such.
      peerRows.push({ figure: null, note: `${kb(peer.issueGzipBytes)} gzip from issue #18 (not bundled here: ${error instanceof Error ? error.message.split('\n')[0] : String(error)})` })
    }
  }
  const line = (r: Row, label: string): string =>
    r.figure === null ? `| ${label} | — | — | ${r.note} |` : `| ${label} | ${r.figure.rawBytes.toLocaleString('en')} | ${r.figure.gzipBytes.toLocaleString('en')} (${kb(r.figure.gzipBytes)}) | ${r.note} |`
  const main = rows[0]?.figure
  const met = main !== undefined && main !== null && main.gzipBytes <= TARGET_GZIP_BYTES
  const section = [
    BUNDLE_SECTION_START,
    '## Bundle size (`bundle`)',
    '',
    `Run ${new Date().toISOString()}. Each entry is bundled with esbuild, minified, \`format: 'esm'\`, \`platform: 'browser'\`, with \`yjs\` external (lib0 and y-protocols bundled, as every peer bundles the parts it uses); gzip at level 9. The peers are measured the same way in the same run. Bytes, not time: the figures do not vary between runs.`,
    '',
    '| bundle | minified B ↓ | gzip B ↓ | what |',
    '| --- | ---: | ---: | --- |',
    ...rows.map((r) => line(r, r.figure?.label ?? '?')),
    ...peerRows.map((r, i) => line(r, (PEERS[i] as { label: string }).label)),
    '',
    `Target: the default entry ≤ ${kb(TARGET_GZIP_BYTES)} gzip — ${main === undefined || main === null ? 'not measured' : `${kb(main.gzipBytes)}, ${met ? 'met' : '**not met**'}`}.`,
    BUNDLE_SECTION_END
  ].join('\n')
  process.stdout.write(`${section}\n`)
  if (process.argv.includes('--snapshot')) {
    const file = join(BENCH_ROOT, 'RESULTS.md')
    writeFileSync(file, withBundleSection(existsSync(file) ? readFileSync(file, 'utf8') : '', section))
    process.stderr.write('[bench] written: the bundle section of apps/bench/RESULTS.md\n')
  }
}

await main()
