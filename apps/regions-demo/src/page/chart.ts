import type { DocumentMode } from '@meridian/policy'
import type { Sample } from './region-client.js'

export interface ChartSeries {
  region: string
  color: string
  samples: readonly Sample[]
}

export interface ChartOptions {
  /** Visible time span, ending at `nowMs`. */
  windowMs: number
  /** The document bound T, drawn as a dashed line. */
  thresholdMs: number
  width: number
  height: number
}

export const MODE_COLORS: Record<DocumentMode, string> = {
  healthy: '#2f9e44',
  degraded: '#f08c00',
  'read-only': '#7048e8',
  offline: '#868e96'
}

const SVG = 'http://www.w3.org/2000/svg'
const PAD = { left: 46, right: 12, top: 10, bottom: 22 }
const STRIP_HEIGHT = 12

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

/** The y-axis top: at least twice T, and room above the highest visible point (rounded up to whole seconds). */
export function axisMaxMs(series: readonly ChartSeries[], fromMs: number, thresholdMs: number): number {
  let max = thresholdMs * 2
  for (const s of series) for (const p of s.samples) if (p.atMs >= fromMs && p.boundMs !== null && p.boundMs * 1.1 > max) max = p.boundMs * 1.1
  return Math.ceil(max / 1_000) * 1_000
}

/**
 * Draws the staleness bound of every region over the last `windowMs` (one
 * line each; an unbounded stretch is a gap), the bound T, and under the plot
 * one strip per region coloured by its mode. Plain SVG, redrawn whole.
 */
export function drawChart(svg: SVGSVGElement, series: readonly ChartSeries[], nowMs: number, o: ChartOptions): void {
  const fromMs = nowMs - o.windowMs
  const stripsTop = o.height - PAD.bottom - series.length * (STRIP_HEIGHT + 3)
  const plotBottom = stripsTop - 16
  const plotW = o.width - PAD.left - PAD.right
  const plotH = plotBottom - PAD.top
  const maxMs = axisMaxMs(series, fromMs, o.thresholdMs)
  const x = (t: number): number => PAD.left + ((t - fromMs) / o.windowMs) * plotW
  const y = (ms: number): number => plotBottom - (Math.min(ms, maxMs) / maxMs) * plotH
  svg.setAttribute('viewBox', `0 0 ${o.width} ${o.height}`)
  const nodes: SVGElement[] = []

  const stepMs = niceStep(maxMs)
  for (let v = 0; v <= maxMs; v += stepMs) {
    nodes.push(el('line', { x1: PAD.left, x2: o.width - PAD.right, y1: y(v), y2: y(v), class: 'grid' }))
    nodes.push(el('text', { x: PAD.left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, `${v / 1_000} s`))
  }
  const labelEveryS = o.windowMs <= 30_000 ? 5 : 10
  for (let s = 0; s <= o.windowMs / 1_000; s += labelEveryS) {
    const t = nowMs - s * 1_000
    nodes.push(el('text', { x: x(t), y: o.height - 6, class: 'tick', 'text-anchor': 'middle' }, s === 0 ? 'now' : `−${s} s`))
  }
  nodes.push(el('line', { x1: PAD.left, x2: o.width - PAD.right, y1: y(o.thresholdMs), y2: y(o.thresholdMs), class: 'threshold' }))
  nodes.push(el('text', { x: o.width - PAD.right - 4, y: y(o.thresholdMs) - 4, class: 'tick threshold-label', 'text-anchor': 'end' }, `T = ${o.thresholdMs / 1_000} s: degraded above`))

  series.forEach((s, i) => {
    const visible = s.samples.filter((p) => p.atMs >= fromMs - 1_000)
    let d = ''
    let pen = false
    for (const p of visible) {
      if (p.boundMs === null) {
        pen = false
        continue
      }
      d += `${pen ? 'L' : 'M'}${x(Math.max(p.atMs, fromMs)).toFixed(1)},${y(p.boundMs).toFixed(1)}`
      pen = true
    }
    if (d !== '') nodes.push(el('path', { d, class: 'series', stroke: s.color, 'data-region': s.region }))

    const top = stripsTop + i * (STRIP_HEIGHT + 3)
    nodes.push(el('text', { x: PAD.left - 6, y: top + STRIP_HEIGHT - 2, class: 'tick', 'text-anchor': 'end' }, s.region))
    // One rect per run of the same mode.
    for (let j = 0; j < visible.length; ) {
      const p = visible[j] as Sample
      let k = j + 1
      while (k < visible.length && (visible[k] as Sample).mode === p.mode) k++
      const end = visible[k]
      const x1 = x(Math.max(p.atMs, fromMs))
      const x2 = end === undefined ? x(nowMs) : x(end.atMs)
      if (x2 > x1) nodes.push(el('rect', { x: x1, y: top, width: x2 - x1 + 0.5, height: STRIP_HEIGHT, fill: MODE_COLORS[p.mode], 'data-mode': p.mode, 'data-region': s.region }))
      j = k
    }
  })
  svg.replaceChildren(...nodes)
}

function niceStep(maxMs: number): number {
  for (const step of [1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000]) if (maxMs / step <= 6) return step
  return Math.ceil(maxMs / 6 / 60_000) * 60_000
}
