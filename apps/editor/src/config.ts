import type { PolicyConfig } from '@meridian/policy'

/**
 * The page's settings, from its URL: `doc` (document name, default "notes"),
 * `name` (your name on cursors; default a remembered random one), `relays`
 * (comma-separated ws:// URLs, tried in order; default the relay serving this
 * page), `home` (the document's home region: writes then need it, and the
 * editor turns read-only when it is unreachable), `commentsStalenessMs` (how
 * stale the view may be before the comments panel is shed; default 10 000),
 * `recoveryHoldMs` (how long the bound must hold again before comments come
 * back; default 3 000).
 */
export interface EditorConfig {
  docName: string
  userName: string
  userColor: string
  urls: string[]
  homeRegion: string | null
  commentsStalenessMs: number
  recoveryHoldMs: number
}

const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Edsger', 'Margaret', 'Alan', 'Radia', 'Ken', 'Frances']
const COLORS = ['#e4572e', '#29a19c', '#7b5ea7', '#f3a712', '#2e86de', '#d63384', '#4c9a2a', '#a0522d']

export function readConfig(location: Location, storage: Pick<Storage, 'getItem' | 'setItem'> | null): EditorConfig {
  const params = new URLSearchParams(location.search)
  const sameOrigin = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`
  // Under the Vite dev server (import.meta.hot exists only there) the relay is elsewhere; built, it serves this page.
  const defaultRelay = import.meta.hot !== undefined ? 'ws://127.0.0.1:4321' : sameOrigin
  const listed = (params.get('relays') ?? '').split(',').map((s) => s.trim()).filter((s) => /^wss?:\/\/[^/]+/.test(s))
  const userName = params.get('name') ?? remembered(storage, 'meridian-editor-name', () => NAMES[Math.floor(Math.random() * NAMES.length)] as string)
  return {
    docName: params.get('doc') ?? 'notes',
    userName,
    userColor: COLORS[hash(userName) % COLORS.length] as string,
    urls: listed.length > 0 ? listed : [defaultRelay],
    homeRegion: params.get('home'),
    commentsStalenessMs: positive(params.get('commentsStalenessMs'), 10_000),
    recoveryHoldMs: positive(params.get('recoveryHoldMs'), 3_000)
  }
}

export function editorPolicy(config: EditorConfig): Partial<PolicyConfig> {
  return {
    maxStalenessMs: Math.max(30_000, config.commentsStalenessMs),
    homeRegion: config.homeRegion,
    requiresHomeRegionForWrites: config.homeRegion !== null,
    recoveryHoldMs: config.recoveryHoldMs,
    capabilities: [{ name: 'comments', maxStalenessMs: config.commentsStalenessMs }]
  }
}

/** One name per browser profile, so a reload keeps it (and the same colour). */
function remembered(storage: Pick<Storage, 'getItem' | 'setItem'> | null, key: string, make: () => string): string {
  const stored = storage?.getItem(key)
  if (stored !== null && stored !== undefined && stored !== '') return stored
  const value = make()
  storage?.setItem(key, value)
  return value
}

function positive(raw: string | null, fallback: number): number {
  const n = raw === null ? NaN : Number(raw)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

function hash(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0
  return h
}
