/**
 * The bundle-size part of RESULTS.md lives between two markers: `bench -- bundle
 * --snapshot` rewrites it, and the server scenarios' `--snapshot` (which renders the
 * rest of the file) carries it over unchanged.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

export const BUNDLE_SECTION_START = '<!-- bundle:start -->'
export const BUNDLE_SECTION_END = '<!-- bundle:end -->'

/** The marked section of `markdown` (markers included), or null. */
export function bundleSection(markdown: string): string | null {
  const start = markdown.indexOf(BUNDLE_SECTION_START)
  const end = markdown.indexOf(BUNDLE_SECTION_END)
  return start < 0 || end < start ? null : markdown.slice(start, end + BUNDLE_SECTION_END.length)
}

/** `markdown` with its bundle section replaced by `section` (appended when it has none). */
export function withBundleSection(markdown: string, section: string | null): string {
  if (section === null) return markdown
  const current = bundleSection(markdown)
  if (current !== null) return markdown.replace(current, section)
  return `${markdown.trimEnd()}\n\n${section}\n`
}

/** Writes RESULTS.md with `markdown`, keeping the bundle section the file had (server scenarios' snapshot). */
export function writeResultsKeepingBundle(file: string, markdown: string): void {
  const previous = existsSync(file) ? bundleSection(readFileSync(file, 'utf8')) : null
  writeFileSync(file, withBundleSection(markdown, previous))
}
