import * as Y from 'yjs'
import { MeridianProvider, type MeridianError } from '@meridian/client'
import { crossTabSharing } from '@meridian/client/cross-tab'
import { indexedDbStore } from '@meridian/client/store'
import { holdRefusedWrites } from '@meridian/client/refused-writes'
import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { enableOfflineShell } from './offline-shell.js'
import { PagePolicy, SignalTracker, demoPolicyConfig, formatBytes, formatDuration, sdkPolicyDecision, type DemoState, type Durability } from './status.js'
import { addTodo, bindTodos, readTodos, type Todo } from './todos.js'
import './style.css'

/**
 * The Meridian demo: a collaborative todo list on one Y.Doc, kept in
 * IndexedDB and synced through a relay by the SDK, with a status panel.
 *
 * URL parameters: `doc` (document name, default "todos"), `relays`
 * (comma-separated ws:// URLs to choose from; default: the relay serving this
 * page), `relay` (the one to use first), `home` (the home region the
 * "checkout" capability needs; default "default", the relay CLI's default),
 * `policy=sdk` (show the SDK's own provider.policy instead of the page's
 * engine, where the SDK has one), `offline=1` (start disconnected).
 */

const params = new URLSearchParams(location.search)
const docName = params.get('doc') ?? 'todos'
const homeRegion = params.get('home') ?? 'default'
const sameOrigin = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`
// Under the Vite dev server (import.meta.hot exists only there) the relay is elsewhere; built, it serves this page.
const defaultRelay = import.meta.hot !== undefined ? 'ws://127.0.0.1:4321' : sameOrigin
const isRelayUrl = (s: string): boolean => /^wss?:\/\/[^/]+/.test(s)
const relays = unique([...(params.get('relays') ?? '').split(',').map((s) => s.trim()).filter(isRelayUrl), defaultRelay])
const requestedRelay = params.get('relay')
let selectedRelay = requestedRelay !== null && isRelayUrl(requestedRelay) ? requestedRelay : (relays[0] ?? defaultRelay)
if (!relays.includes(selectedRelay)) relays.unshift(selectedRelay)

const doc = new Y.Doc()
const tracker = new SignalTracker()
const policy = new PagePolicy(homeRegion, params.get('policy') === 'sdk')
let provider: MeridianProvider
let offlineByUser = params.get('offline') === '1'
let offlineReady = false
let started = false
let lastState: DemoState | null = null

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} missing`)
  return el as T
}

// ---- events log -------------------------------------------------------------

const events: { at: string; text: string; kind: string }[] = []
function logEvent(text: string, kind = 'info'): void {
  events.unshift({ at: new Date().toLocaleTimeString(), text, kind })
  events.length = Math.min(events.length, 8)
  $('events').replaceChildren(
    ...events.map((e) => {
      const li = document.createElement('li')
      li.className = e.kind
      li.textContent = `${e.at}  ${e.text}`
      return li
    })
  )
}

// ---- provider ---------------------------------------------------------------

function createProvider(): MeridianProvider {
  // The selected relay first, the others as failover, in order.
  const urls = [selectedRelay, ...relays.filter((r) => r !== selectedRelay)]
  // `policy`: the same capabilities for the SDK's own engine, where the SDK has one (see PagePolicy).
  const p = new MeridianProvider({ doc, docName, urls, store: indexedDbStore(), connect: !offlineByUser, policy: demoPolicyConfig(homeRegion), policyEngine, deleteDigest, crossTabSharing, holdRefusedWrites })
  p.on('status', ({ status, url }) => logEvent(`${status}${url !== null ? ` · ${url}` : ''}`, status === 'connected' ? 'good' : 'info'))
  p.on('relay', (info) => logEvent(`relay ${info.nodeId} (${info.region}) said hello`))
  p.on('persistence', ({ state }) => logEvent(`local store: ${state}`, 'bad'))
  p.on('error', (e: MeridianError) => logEvent(`${e.code}: ${e.message}`, 'bad'))
  // The panel follows the provider's events (and ticks, see main()).
  for (const event of ['status', 'synced', 'pending', 'relay', 'persistence', 'loaded'] as const) p.on(event, () => render())
  tracker.attach(p, doc)
  return p
}

async function switchRelay(url: string): Promise<void> {
  if (url === selectedRelay) return
  selectedRelay = url
  if (!relays.includes(url)) relays.push(url)
  const next = new URL(location.href)
  next.searchParams.set('relay', url)
  history.replaceState(null, '', next)
  await provider.destroy()
  provider = createProvider()
  exposeForTests()
  renderRelayOptions()
  logEvent(`switched to ${url}`)
}

// ---- status panel -----------------------------------------------------------

const DURABILITY_TEXT: Record<Durability, string> = {
  none: '— (no edit in this page yet)',
  memory: 'memory — not yet in IndexedDB',
  local: 'local — committed to IndexedDB',
  relay: 'relay — committed and acknowledged by the relay',
  replicated: 'replicated — held by other regions too'
}

function computeState(): DemoState {
  const nowMs = performance.now()
  tracker.observe(provider)
  const { source, decision } = policy.evaluate(provider, tracker, nowMs)
  const durability = tracker.durability(provider)
  return {
    docName,
    status: provider.status,
    url: provider.url,
    relay: provider.relay === null ? null : { nodeId: provider.relay.nodeId, region: provider.relay.region },
    synced: provider.synced,
    pending: provider.pendingCount,
    pendingBytes: provider.pendingBytes,
    durability: durability.level,
    replicatedRegions: durability.regions,
    lastSyncAtMs: tracker.lastSyncAtMs,
    stalenessMs: tracker.lastSyncAtMs === null ? null : nowMs - tracker.lastSyncAtMs,
    persistence: provider.persistence,
    persistenceError: provider.persistenceError?.message ?? null,
    crossTab: provider.crossTabEnabled,
    offlineByUser,
    policySource: source,
    sdkPolicyAvailable: sdkPolicyDecision(provider) !== null,
    decision,
    offlineReady,
    homeRegion
  }
}

function row(term: string, value: string, kind = ''): HTMLElement[] {
  const dt = document.createElement('dt')
  dt.textContent = term
  const dd = document.createElement('dd')
  dd.textContent = value
  if (kind !== '') dd.className = kind
  dd.dataset.field = term
  return [dt, dd]
}

function render(): void {
  if (!started) return
  const s = computeState()
  lastState = s
  const connection =
    s.status === 'connected'
      ? `connected${s.synced ? ', synced' : ''}`
      : s.offlineByUser
        ? 'offline (you turned it off)'
        : s.status === 'connecting'
          ? 'connecting…'
          : navigator.onLine
            ? 'disconnected — retrying with backoff'
            : 'offline — the browser has no network'
  $('status-list').replaceChildren(
    ...row('connection', connection, s.status === 'connected' ? 'good' : 'bad'),
    ...row('relay in use', s.relay !== null && s.status === 'connected' ? `${s.relay.nodeId} · region ${s.relay.region} · ${s.url ?? ''}` : `— (${s.url ?? selectedRelay})`),
    ...row('pending writes', `${s.pending} unacknowledged (${formatBytes(s.pendingBytes)})`, s.pending > 0 ? 'warn' : ''),
    ...row(
      'last write',
      s.durability === 'replicated' ? `replicated — held by ${s.replicatedRegions ?? '?'} other region(s) too` : DURABILITY_TEXT[s.durability],
      s.durability === 'relay' || s.durability === 'replicated' ? 'good' : s.durability === 'none' ? '' : 'warn'
    ),
    ...row(
      'staleness',
      s.stalenessMs === null ? 'never synced in this page' : `${formatDuration(s.stalenessMs)} since the last completed sync`,
      s.stalenessMs !== null && s.stalenessMs < 2_000 ? 'good' : 'warn'
    ),
    ...row('local store', s.persistence === 'ok' ? 'IndexedDB — edits survive a reload' : `memory only — ${s.persistenceError ?? ''}`, s.persistence === 'ok' ? 'good' : 'bad'),
    ...row('other tabs', s.crossTab ? 'shared live through BroadcastChannel (works offline)' : 'not shared (no BroadcastChannel)'),
    ...row('offline reload', s.offlineReady ? 'ready (page cached by a service worker)' : 'not available yet')
  )
  $('policy-source').textContent =
    s.policySource === 'sdk'
      ? `From the SDK (provider.policy). Home region: "${s.homeRegion}".`
      : `Evaluated in this page by @meridian/policy from the provider's signals ${
          s.sdkPolicyAvailable ? '(?policy=sdk shows the SDK’s own provider.policy)' : '(the SDK does not expose provider.policy yet)'
        }. Home region: "${s.homeRegion}".`
  const mode = $('policy-mode')
  mode.className = `mode ${s.decision.mode}`
  mode.textContent = `mode: ${s.decision.mode}${s.decision.reasons.length > 0 ? ` (${s.decision.reasons.join(', ')})` : ''} · staleness bound ${formatDuration(s.decision.stalenessBoundMs)}`
  $('capabilities').replaceChildren(
    ...s.decision.capabilities.map((c) => {
      const li = document.createElement('li')
      li.className = c.on ? 'on' : 'shed'
      li.dataset.capability = c.name
      li.textContent = c.on ? `${c.name}: on` : `${c.name}: shed — ${c.reasons.join(', ')}${c.recoverAtMs !== null ? ` (back in ${formatDuration(c.recoverAtMs - s.decision.evaluatedAtMs)})` : ''}`
      return li
    })
  )
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-capability]')) {
    const capability = s.decision.capabilities.find((c) => c.name === button.dataset.capability)
    button.disabled = capability?.on !== true
    button.title = capability?.on === true ? '' : `shed: ${capability?.reasons.join(', ') ?? ''}`
  }
}

function renderRelayOptions(): void {
  const select = $<HTMLSelectElement>('relay-select')
  select.replaceChildren(
    ...relays.map((url) => {
      const option = document.createElement('option')
      option.value = url
      option.textContent = url === sameOrigin ? `${url} (this server)` : url
      option.selected = url === selectedRelay
      return option
    })
  )
}

// ---- wiring -----------------------------------------------------------------

function exposeForTests(): void {
  // For the browser tests (and the curious, from the console): state to wait on, no sleeps.
  ;(window as unknown as { __meridian: unknown }).__meridian = {
    doc,
    provider,
    docName,
    todos: (): Todo[] => readTodos(doc),
    addTodo: (text: string) => addTodo(doc, text),
    state: (): DemoState => lastState ?? computeState(),
    get offlineReady() {
      return offlineReady
    }
  }
}

function main(): void {
  $('doc-name').textContent = docName
  document.title = `${docName} — Meridian demo`
  provider = createProvider()
  started = true
  exposeForTests()
  bindTodos(doc, { list: $('todo-list'), form: $('add-form'), input: $('add-input') })
  renderRelayOptions()

  $<HTMLSelectElement>('relay-select').addEventListener('change', (e) => void switchRelay((e.target as HTMLSelectElement).value))
  $<HTMLFormElement>('relay-custom').addEventListener('submit', (e) => {
    e.preventDefault()
    const value = $<HTMLInputElement>('relay-input').value.trim()
    if (isRelayUrl(value)) void switchRelay(value)
    else logEvent(`not a ws:// or wss:// URL: ${value}`, 'bad')
  })
  const toggle = $<HTMLInputElement>('offline-toggle')
  toggle.checked = offlineByUser
  toggle.addEventListener('change', () => {
    offlineByUser = toggle.checked
    if (offlineByUser) provider.disconnect()
    else provider.connect()
    logEvent(offlineByUser ? 'went offline (edits stay local and queue up)' : 'back online')
    render()
  })
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-capability]')) {
    button.addEventListener('click', () => logEvent(`${button.dataset.capability ?? ''}: allowed by the policy right now`, 'good'))
  }
  window.addEventListener('offline', () => logEvent('browser: network gone', 'bad'))
  window.addEventListener('online', () => logEvent('browser: network back', 'good'))

  // Ticks for the clocks (staleness) and the policy's rechecks (it has no timers of its own).
  doc.on('update', () => queueMicrotask(render))
  setInterval(render, 250)
  render()
  void enableOfflineShell().then((ready) => {
    offlineReady = ready
    render()
  })
  void provider.whenLoaded.then(() => logEvent(`loaded "${docName}" from ${provider.persistence === 'ok' ? 'IndexedDB' : 'memory'}: ${readTodos(doc).length} items`))
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}

main()
