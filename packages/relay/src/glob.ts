/**
 * Glob patterns for document names and origins, matched without regular
 * expressions (a pattern can never be "injected" or backtrack badly):
 *
 * - `*` matches any run of characters except `/` (one path segment or part of one),
 * - `**` (two or more stars) matches any run of characters, `/` included,
 * - every other character matches itself; there is no escaping and no `?`.
 *
 * `team-1/*` matches `team-1/board` but not `team-1/a/b`; `team-1/**` matches
 * both; `*` alone matches every name without a `/`.
 */

/** Longest pattern accepted, in UTF-16 code units (patterns come from tokens and flags). */
export const MAX_GLOB_LENGTH = 512

const STAR = -1
const GLOBSTAR = -2

export type CompiledGlob = readonly number[]

/** Turns a pattern into tokens: char codes, STAR or GLOBSTAR. Throws a TypeError on an empty or too long pattern. */
export function compileGlob(pattern: string): CompiledGlob {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_GLOB_LENGTH) {
    throw new TypeError(`a pattern must be a string of 1 to ${MAX_GLOB_LENGTH} characters`)
  }
  const tokens: number[] = []
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.charCodeAt(i) !== 42 /* * */) {
      tokens.push(pattern.charCodeAt(i))
      continue
    }
    let j = i
    while (j + 1 < pattern.length && pattern.charCodeAt(j + 1) === 42) j++
    tokens.push(j > i ? GLOBSTAR : STAR)
    i = j
  }
  return tokens
}

const SLASH = 47

/**
 * True if `name` matches the compiled pattern as a whole. Dynamic programming
 * over (token, position): O(tokens × name length) time, O(name length) memory,
 * whatever the input.
 */
export function matchGlob(glob: CompiledGlob, name: string): boolean {
  const n = name.length
  let prev = new Uint8Array(n + 1)
  let cur = new Uint8Array(n + 1)
  prev[0] = 1
  for (const token of glob) {
    let any = false
    if (token === STAR || token === GLOBSTAR) {
      cur[0] = prev[0] ?? 0
      any = cur[0] === 1
      for (let j = 1; j <= n; j++) {
        const v = prev[j] === 1 || (cur[j - 1] === 1 && (token === GLOBSTAR || name.charCodeAt(j - 1) !== SLASH))
        cur[j] = v ? 1 : 0
        if (v) any = true
      }
    } else {
      cur[0] = 0
      for (let j = 1; j <= n; j++) {
        const v = prev[j - 1] === 1 && name.charCodeAt(j - 1) === token
        cur[j] = v ? 1 : 0
        if (v) any = true
      }
    }
    if (!any) return false
    const t = prev
    prev = cur
    cur = t
  }
  return prev[n] === 1
}

/** Compiles and matches in one go (for one-off checks). */
export const globMatches = (pattern: string, name: string): boolean => matchGlob(compileGlob(pattern), name)
