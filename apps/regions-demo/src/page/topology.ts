import type { DemoState, RegionView } from '../server/api-types.js'

/** One direction of a link: data flowing from `from` to `to`. */
export interface DirectedLink {
  from: string
  to: string
  /** How far `to` is behind `from`: `to`'s staleness towards `from` (null: never exchanged or unknown). */
  lagMs: number | null
  /** What `from` has accepted and not yet seen confirmed by `to`. */
  backlogUpdates: number | null
  backlogBytes: number | null
  cut: boolean
  state: 'ok' | 'lagging' | 'cut' | 'relay-down'
}

function peerOf(view: RegionView | undefined, region: string) {
  return view?.mesh?.peers.find((p) => p.region === region)
}

/** Both directions of every pair of regions, from each relay's `/v1/cluster` and the server's cuts. */
export function directedLinks(state: DemoState, lagWarnMs: number): DirectedLink[] {
  const out: DirectedLink[] = []
  const byRegion = new Map(state.regions.map((r) => [r.region, r]))
  for (const a of state.regions) {
    for (const b of state.regions) {
      if (a === b) continue
      const lagMs = peerOf(byRegion.get(b.region), a.region)?.stalenessMs ?? null
      const fromPeer = peerOf(byRegion.get(a.region), b.region)
      const cut = state.cuts.some((c) => c.from === a.region && c.to === b.region)
      const down = !a.running || !b.running
      out.push({
        from: a.region,
        to: b.region,
        lagMs,
        backlogUpdates: fromPeer?.pendingUpdates ?? null,
        backlogBytes: fromPeer?.pendingBytes ?? null,
        cut,
        state: down ? 'relay-down' : cut ? 'cut' : lagMs === null || lagMs > lagWarnMs ? 'lagging' : 'ok'
      })
    }
  }
  return out
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '∞'
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 100_000) return `${(ms / 1_000).toFixed(1)} s`
  return `${Math.round(ms / 1_000)} s`
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '?'
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`
}

const SVG = 'http://www.w3.org/2000/svg'
function svgEl<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

/**
 * The regions on a circle, each pair joined by two arrows (one per
 * direction, offset so both show), coloured by state and labelled with the
 * receiving side's lag; a cut direction is a red dashed arrow.
 */
export function drawTopology(svg: SVGSVGElement, state: DemoState, colors: Record<string, string>, lagWarnMs: number): void {
  const W = 460
  const H = 300
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  const n = state.regions.length
  const pos = new Map(state.regions.map((r, i) => {
    const angle = -Math.PI / 2 + (i * 2 * Math.PI) / n
    return [r.region, { x: W / 2 + Math.cos(angle) * 115, y: H / 2 + 12 + Math.sin(angle) * 105 }]
  }))
  const defs = svgEl('defs', {})
  for (const s of ['ok', 'lagging', 'cut', 'relay-down']) {
    const marker = svgEl('marker', { id: `arrow-${s}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' })
    marker.append(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrowhead ${s}` }))
    defs.append(marker)
  }
  const nodes: SVGElement[] = [defs]
  for (const link of directedLinks(state, lagWarnMs)) {
    const a = pos.get(link.from)
    const b = pos.get(link.to)
    if (a === undefined || b === undefined) continue
    const dx = b.x - a.x
    const dy = b.y - a.y
    const len = Math.hypot(dx, dy)
    // Offset each direction to its own side of the pair's axis; stop short of the node circles.
    const ox = (-dy / len) * 7
    const oy = (dx / len) * 7
    const r = 36 / len
    const x1 = a.x + dx * r + ox
    const y1 = a.y + dy * r + oy
    const x2 = b.x - dx * r + ox
    const y2 = b.y - dy * r + oy
    nodes.push(svgEl('line', { x1, y1, x2, y2, class: `link ${link.state}`, 'marker-end': `url(#arrow-${link.state})`, 'data-from': link.from, 'data-to': link.to, 'data-state': link.state }))
    const label = link.state === 'cut' ? 'cut' : link.state === 'relay-down' ? '—' : formatMs(link.lagMs)
    const lx = (x1 + x2) / 2 + ox * 2.6
    const ly = (y1 + y2) / 2 + oy * 2.6 + 4
    nodes.push(svgEl('text', { x: lx, y: ly, class: `link-label ${link.state}`, 'text-anchor': 'middle' }, label))
  }
  for (const r of state.regions) {
    const p = pos.get(r.region)
    if (p === undefined) continue
    nodes.push(svgEl('circle', { cx: p.x, cy: p.y, r: 32, class: `node ${r.running ? 'up' : 'down'}`, stroke: colors[r.region] ?? '#333' }))
    nodes.push(svgEl('text', { x: p.x, y: p.y - 2, class: 'node-name', 'text-anchor': 'middle' }, r.region))
    nodes.push(svgEl('text', { x: p.x, y: p.y + 13, class: 'node-sub', 'text-anchor': 'middle' }, r.running ? r.relayId : 'killed'))
  }
  svg.replaceChildren(...nodes)
}

function button(label: string, data: Record<string, string>, title: string): HTMLButtonElement {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = label
  b.title = title
  for (const [k, v] of Object.entries(data)) b.dataset[k] = v
  return b
}

/** Per pair of regions: both directions with lag and backlog, and the buttons to cut or heal them. */
export function renderLinkTable(container: HTMLElement, state: DemoState, lagWarnMs: number): void {
  const links = directedLinks(state, lagWarnMs)
  const rows: HTMLElement[] = []
  const regions = state.regions.map((r) => r.region)
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i] as string
      const b = regions[j] as string
      const pair = document.createElement('div')
      pair.className = 'pair'
      const head = document.createElement('div')
      head.className = 'pair-head'
      const name = document.createElement('strong')
      name.textContent = `${a} ⇄ ${b}`
      head.append(
        name,
        button('cut both ways', { action: 'cut', from: a, to: b, both: 'true' }, `drop all traffic between ${a} and ${b}`),
        button('heal', { action: 'heal', a, b }, `restore traffic between ${a} and ${b}`)
      )
      pair.append(head)
      for (const link of links.filter((l) => (l.from === a && l.to === b) || (l.from === b && l.to === a))) {
        const line = document.createElement('div')
        line.className = `direction ${link.state}`
        line.dataset.from = link.from
        line.dataset.to = link.to
        line.dataset.state = link.state
        const text = document.createElement('span')
        text.textContent = `${link.from} → ${link.to}: lag ${formatMs(link.lagMs)} · backlog ${link.backlogUpdates ?? '?'} (${formatBytes(link.backlogBytes)})${link.cut ? ' · cut' : ''}`
        line.append(text, button(`cut ${link.from} → ${link.to}`, { action: 'cut', from: link.from, to: link.to }, `drop traffic from ${link.from} to ${link.to} only`))
        pair.append(line)
      }
      rows.push(pair)
    }
  }
  container.replaceChildren(...rows)
}
