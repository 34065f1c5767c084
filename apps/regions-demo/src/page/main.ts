import { systemClock } from '@meridian/base'
import type { ApiError, DemoState } from '../server/api-types.js'
import { MODE_COLORS, drawChart } from './chart.js'
import { MAX_STALENESS_MS, RegionClient, type Sample } from './region-client.js'
import { bindTextarea } from './text-binding.js'
import { drawTopology, formatMs, renderLinkTable } from './topology.js'
import './style.css'

/**
 * The regions demo page: the mesh as the relays report it, the buttons that
 * break it (through the demo server's control API), one editor per region
 * against that region's relay, and each editor's staleness bound and mode
 * over time. Served by server/main.ts on loopback.
 */

const REGION_COLORS = ['#1c7ed6', '#d6336c', '#0ca678', '#f59f00', '#7048e8', '#495057']
const CHART_WINDOW_MS = 60_000
const CHART_MIN_WINDOW_MS = 20_000
const SAMPLE_EVERY_MS = 250
const POLL_EVERY_MS = 1_000

const clients = new Map<string, RegionClient>()
const colors: Record<string, string> = {}
let state: DemoState | null = null
let serverError: string | null = null

const $ = <T extends Element = HTMLElement>(selector: string): T => {
  const el = document.querySelector<T>(selector)
  if (el === null) throw new Error(`${selector} missing`)
  return el
}

// ---- control API ----------------------------------------------------------------

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<DemoState> {
  const res = await fetch(path, {
    method,
    headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : method === 'POST' ? { body: '{}' } : {})
  })
  const json = (await res.json()) as DemoState | ApiError
  if (!res.ok) throw new Error('code' in json ? `${json.code}: ${json.message}` : `HTTP ${res.status}`)
  return json as DemoState
}

const events: { text: string; bad: boolean }[] = []
function logEvent(text: string, bad = false): void {
  events.unshift({ text: `${new Date().toLocaleTimeString()}  ${text}`, bad })
  events.length = Math.min(events.length, 6)
  $('#events').replaceChildren(
    ...events.map((e) => {
      const li = document.createElement('li')
      li.textContent = e.text
      if (e.bad) li.className = 'bad'
      return li
    })
  )
}

async function runAction(button: HTMLButtonElement): Promise<void> {
  const d = button.dataset
  const [path, body, what] =
    d.action === 'cut'
      ? ['/api/cut', { from: d.from, to: d.to, both: d.both === 'true' }, d.both === 'true' ? `cut ${d.from} ⇄ ${d.to}` : `cut ${d.from} → ${d.to}`]
      : d.action === 'heal'
        ? ['/api/heal', { a: d.a, b: d.b }, `healed ${d.a} ⇄ ${d.b}`]
        : d.action === 'heal-all'
          ? ['/api/heal', {}, 'healed every link']
          : d.action === 'kill' || d.action === 'restart'
            ? [`/api/relays/${encodeURIComponent(d.region ?? '')}/${d.action}`, {}, `${d.action === 'kill' ? 'killed' : 'restarted'} the relay of ${d.region ?? ''}`]
            : [null, null, '']
  if (path === null) return
  button.disabled = true
  try {
    state = await api('POST', path, body)
    logEvent(what)
    renderState()
  } catch (err) {
    logEvent(`${what} failed: ${(err as Error).message}`, true)
  } finally {
    button.disabled = false
  }
}

// ---- state polling --------------------------------------------------------------

async function poll(): Promise<void> {
  try {
    state = await api('GET', '/api/state')
    serverError = null
  } catch (err) {
    serverError = (err as Error).message
  }
  renderState()
  setTimeout(() => void poll(), POLL_EVERY_MS)
}

function renderState(): void {
  $('#server-status').textContent = serverError !== null ? `demo server unreachable: ${serverError}` : state === null ? 'connecting…' : `${state.regions.length} regions · ${state.cuts.length} cut direction(s)`
  if (state === null) return
  drawTopology($<SVGSVGElement>('#topology'), state, colors, MAX_STALENESS_MS)
  renderLinkTable($('#links'), state, MAX_STALENESS_MS)
  for (const r of state.regions) {
    const b = document.querySelector<HTMLButtonElement>(`[data-region-button="${r.region}"]`)
    if (b === null) continue
    b.dataset.action = r.running ? 'kill' : 'restart'
    b.textContent = r.running ? 'kill relay' : 'restart relay'
  }
}

// ---- editors and chart ----------------------------------------------------------

function editorColumn(client: RegionClient): HTMLElement {
  const box = document.createElement('article')
  box.className = 'editor'
  box.dataset.region = client.region
  box.style.borderTopColor = colors[client.region] ?? '#333'
  const head = document.createElement('div')
  head.className = 'editor-head'
  const name = document.createElement('strong')
  name.textContent = client.region
  name.style.color = colors[client.region] ?? '#333'
  const mode = document.createElement('span')
  mode.className = 'mode'
  mode.dataset.field = 'mode'
  const kill = document.createElement('button')
  kill.type = 'button'
  kill.dataset.regionButton = client.region
  kill.dataset.region = client.region
  kill.dataset.action = 'kill'
  kill.textContent = 'kill relay'
  head.append(name, mode, kill)
  const connection = document.createElement('div')
  connection.className = 'line'
  connection.dataset.field = 'connection'
  const area = document.createElement('textarea')
  area.placeholder = `Type here: edits go through the relay of ${client.region}`
  area.setAttribute('aria-label', `editor in ${client.region}`)
  area.spellcheck = false
  const bound = document.createElement('div')
  bound.className = 'line'
  bound.dataset.field = 'bound'
  const caps = document.createElement('div')
  caps.className = 'caps'
  caps.dataset.field = 'capabilities'
  box.append(head, connection, area, bound, caps)
  bindTextarea(client.text, area, () => client.provider.policy.writable)
  return box
}

function renderEditor(client: RegionClient, latest: Sample): void {
  const box = document.querySelector<HTMLElement>(`.editor[data-region="${client.region}"]`)
  if (box === null) return
  const p = client.provider
  const d = p.policy
  const mode = box.querySelector<HTMLElement>('[data-field="mode"]') as HTMLElement
  mode.className = `mode ${d.mode}`
  mode.textContent = d.mode
  ;(box.querySelector('[data-field="connection"]') as HTMLElement).textContent =
    `${p.status}${p.status === 'connected' && p.relay !== null ? ` to ${p.relay.nodeId}` : ''} · ${p.pendingCount} unacknowledged`
  ;(box.querySelector('[data-field="bound"]') as HTMLElement).textContent =
    `staleness bound ${formatMs(latest.boundMs)}${d.reasons.length > 0 ? ` · ${d.reasons.join(', ')}` : ''}`
  ;(box.querySelector('[data-field="capabilities"]') as HTMLElement).replaceChildren(
    ...d.capabilities.map((c) => {
      const span = document.createElement('span')
      span.className = c.on ? 'on' : 'shed'
      span.textContent = c.on ? `${c.name} ✓` : `${c.name} ✗ ${c.reasons.join(', ')}`
      return span
    })
  )
}

const openedAtMs = systemClock.now()

function tick(): void {
  const now = systemClock.now()
  for (const client of clients.values()) renderEditor(client, client.sample())
  // Fill the width from the start: the window grows with the page's age up to CHART_WINDOW_MS.
  const windowMs = Math.min(CHART_WINDOW_MS, Math.max(CHART_MIN_WINDOW_MS, Math.ceil((now - openedAtMs) / 5_000) * 5_000))
  drawChart(
    $<SVGSVGElement>('#chart'),
    [...clients.values()].map((c) => ({ region: c.region, color: colors[c.region] ?? '#333', samples: c.samples })),
    now,
    { windowMs, thresholdMs: MAX_STALENESS_MS, width: 760, height: 300 }
  )
}

function renderLegend(): void {
  const items = [
    ...[...clients.keys()].map((r) => [colors[r] ?? '#333', `${r}: staleness bound`] as const),
    ...Object.entries(MODE_COLORS).map(([mode, color]) => [color, mode] as const)
  ]
  $('#legend').replaceChildren(
    ...items.map(([color, label]) => {
      const span = document.createElement('span')
      const swatch = document.createElement('span')
      swatch.className = 'swatch'
      swatch.style.background = color
      span.append(swatch, label)
      return span
    })
  )
}

// ---- start ----------------------------------------------------------------------

async function firstState(): Promise<DemoState> {
  // The server is up (it served this page); retry a few times in case it is busy restarting a relay.
  for (let attempt = 1; ; attempt++) {
    try {
      return await api('GET', '/api/state')
    } catch (err) {
      if (attempt >= 10) throw err
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

async function main(): Promise<void> {
  state = await firstState()
  $('#doc-name').textContent = state.docName
  state.regions.forEach((r, i) => {
    colors[r.region] = REGION_COLORS[i % REGION_COLORS.length] as string
    clients.set(r.region, new RegionClient(r.region, r.wsUrl, state?.docName ?? 'regions-demo'))
  })
  $('#editors').replaceChildren(...[...clients.values()].map(editorColumn))
  for (const c of clients.values()) c.provider.on('error', (e) => logEvent(`${c.region}: ${e.code}: ${e.message}`, true))
  document.addEventListener('click', (e) => {
    const button = (e.target as Element).closest<HTMLButtonElement>('button[data-action]')
    if (button !== null) void runAction(button)
  })
  renderLegend()
  renderState()
  tick()
  setInterval(tick, SAMPLE_EVERY_MS)
  setTimeout(() => void poll(), POLL_EVERY_MS)
  // For the browser test (and the curious, from the console): state to wait on, no sleeps.
  ;(window as unknown as { __regions: unknown }).__regions = {
    regions: [...clients.keys()],
    maxStalenessMs: MAX_STALENESS_MS,
    client: (region: string) => clients.get(region),
    latest: (region: string) => clients.get(region)?.samples.at(-1) ?? null,
    samples: (region: string) => [...(clients.get(region)?.samples ?? [])],
    text: (region: string) => clients.get(region)?.text.toString() ?? null,
    state: () => state
  }
}

main().catch((err: unknown) => {
  $('#server-status').textContent = `could not start: ${(err as Error).message}`
})
