/** Reading commands out of the README, so tests run what it shows rather than a copy of it. */

/** The fenced code blocks of the `## <title>` section (up to the next `## `), by language. */
export function readmeSection(readme: string, title: string): { sh: string; js: string; text: string } {
  const start = readme.indexOf(`\n## ${title}\n`)
  if (start < 0) throw new Error(`README has no "## ${title}" section`)
  const end = readme.indexOf('\n## ', start + 4)
  const text = readme.slice(start, end < 0 ? undefined : end)
  const block = (lang: string): string => {
    const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(text)
    return match?.[1] ?? ''
  }
  return { sh: block('sh'), js: block('js'), text }
}

/** Every fenced `sh` block of a text. */
export function shellBlocks(text: string): string[] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
}

/** Strips a trailing `# comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote !== null) {
      if (c === quote) quote = null
    } else if (c === '"' || c === "'") quote = c
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) return line.slice(0, i).trimEnd()
  }
  return line.trimEnd()
}

/** The commands of a shell block: one per line, without comments and blank lines. */
export function shellLines(sh: string): string[] {
  return sh.split('\n').map(stripComment).map((l) => l.trim()).filter((l) => l.length > 0)
}

/** Shell words of one command line: quotes grouped, `$NAME` / `"$NAME"` taken from `env`. No globbing. */
export function shellWords(line: string, env: Record<string, string> = {}): string[] {
  const words: string[] = []
  let word: string | null = null
  let i = 0
  const expand = (): string => {
    const m = /^\$(\w+)|^\$\{(\w+)\}/.exec(line.slice(i))
    if (m === null) return '$'
    i += m[0].length - 1
    const name = m[1] ?? m[2] ?? ''
    const value = env[name]
    if (value === undefined) throw new Error(`README command uses $${name}, which the test does not define: ${line}`)
    return value
  }
  for (; i < line.length; i++) {
    const c = line[i] ?? ''
    if (/\s/.test(c)) {
      if (word !== null) words.push(word)
      word = null
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1)
      word = (word ?? '') + line.slice(i + 1, close)
      i = close
    } else if (c === '"') {
      let text = ''
      for (i++; i < line.length && line[i] !== '"'; i++) text += line[i] === '$' ? expand() : line[i]
      word = (word ?? '') + text
    } else if (c === '$') word = (word ?? '') + expand()
    else word = (word ?? '') + c
  }
  if (word !== null) words.push(word)
  return words
}
