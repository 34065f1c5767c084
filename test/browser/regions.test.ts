/**
 * The regions demo in a real browser: Debian's Chromium driven by
 * playwright-core against `startRegionsDemo` (three real relay processes, one
 * per region, meshed through the testing kit's fault proxies). The page is
 * built with Vite into a temporary folder. Every action goes through the
 * page's own buttons (its control API); waits are on state the page exposes
 * (`window.__regions`), never sleeps. The screenshot taken during the
 * partition goes to test-results/screenshots/regions-partition.png
 * (docs/regions.png is a copy of it).
 *
 * Skipped, with the reason printed, where /usr/bin/chromium is missing.
 * MERIDIAN_CHROMIUM overrides the path.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startRegionsDemo, type RegionsDemo } from '../../apps/regions-demo/src/server/demo-server.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? '/usr/bin/chromium'
const chromiumPresent = existsSync(CHROMIUM)
if (!chromiumPresent) {
  console.warn(`[test/browser/regions] skipped: no Chromium at ${CHROMIUM} (install it with \`apt-get install chromium\`, or set MERIDIAN_CHROMIUM)`)
}
const SCREENSHOTS = join(repo, 'test-results', 'screenshots')
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** Partitions are noticed, and healed links repaired, within seconds (the kit's process mesh timing); generous for a loaded machine. */
const WAIT = { timeout: 30_000 }

type Mode = 'healthy' | 'degraded' | 'read-only' | 'offline'
interface Sample {
  atMs: number
  boundMs: number | null
  mode: Mode
}
/** What the page exposes as window.__regions (see apps/regions-demo/src/page/main.ts). */
interface PageApi {
  regions: string[]
  maxStalenessMs: number
  client(region: string): { provider: { status: string; synced: boolean; pendingCount: number } } | undefined
  latest(region: string): Sample | null
  samples(region: string): Sample[]
  text(region: string): string | null
}
declare const window: { __regions?: PageApi }

/**
 * Read from the drawn chart (the SVG, not the samples behind it): whether a
 * region's line ends above the dashed T line, and the mode its strip ends with.
 */
const CHART_NOW = `window.chartNow = (region) => {
  const path = document.querySelector('#chart path.series[data-region="' + region + '"]')
  const threshold = document.querySelector('#chart line.threshold')
  const strips = document.querySelectorAll('#chart rect[data-region="' + region + '"]')
  if (path === null || threshold === null || strips.length === 0) return null
  const points = path.getAttribute('d').split(/[ML]/).filter((p) => p !== '')
  const lastY = Number(points[points.length - 1].split(',')[1])
  return { aboveT: lastY < Number(threshold.getAttribute('y1')), mode: strips[strips.length - 1].getAttribute('data-mode') }
}`
declare function chartNow(region: string): { aboveT: boolean; mode: Mode } | null

let dist: string
let demo: RegionsDemo
let browser: Browser

describe.skipIf(!chromiumPresent)('the regions demo in Chromium', () => {
  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'meridian-regions-page-'))
    const { build } = await import('vite')
    const root = join(repo, 'apps/regions-demo')
    await build({ mode: 'production', root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { outDir: dist, emptyOutDir: true, sourcemap: false } })
    demo = await startRegionsDemo({ pageDir: dist, docName: 'regions-test' })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
    await mkdir(SCREENSHOTS, { recursive: true })
  })

  afterAll(async () => {
    await browser?.close()
    await demo?.close()
    if (dist !== undefined) await rm(dist, { recursive: true, force: true })
  })

  async function openDemo(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } })
    const page = await context.newPage()
    await page.addInitScript(CHART_NOW)
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`))
    await page.goto(demo.url)
    await page.waitForFunction(() => window.__regions?.regions.length === 3, null, WAIT)
    return page
  }

  const modeOf = (page: Page, region: string): Promise<Mode | undefined> => page.evaluate((r) => window.__regions?.latest(r)?.mode, region)
  const whenMode = (page: Page, region: string, mode: Mode): Promise<unknown> =>
    page.waitForFunction(([r, m]) => window.__regions?.latest(r as string)?.mode === m, [region, mode], WAIT)
  const whenAllHealthy = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__regions?.regions.every((r) => {
      const p = window.__regions?.client(r)?.provider
      return p?.status === 'connected' && p.synced && window.__regions?.latest(r)?.mode === 'healthy'
    }) === true, null, WAIT)
  const whenTextEverywhere = (page: Page, text: string): Promise<unknown> =>
    page.waitForFunction((t) => window.__regions?.regions.every((r) => window.__regions?.text(r)?.includes(t) === true) === true, text, WAIT)
  const editor = (page: Page, region: string) => page.locator(`.editor[data-region="${region}"] textarea`)
  const linkState = (page: Page, from: string, to: string): Promise<string | null> =>
    page.locator(`#links .direction[data-from="${from}"][data-to="${to}"]`).getAttribute('data-state')

  /** Types at the end of a region's editor, through the keyboard. */
  async function typeIn(page: Page, region: string, text: string): Promise<void> {
    const area = editor(page, region)
    await area.click()
    await area.press('End')
    await area.pressSequentially(text)
  }

  it('a one-way cut made from the page: the cut-off region’s bound climbs past T and it turns degraded; the far region stays healthy; after heal all recover and converge', async () => {
    const page = await openDemo()
    await whenAllHealthy(page)
    const T = await page.evaluate(() => window.__regions?.maxStalenessMs ?? 0)
    expect(T).toBeGreaterThan(0)

    await typeIn(page, 'eu', 'hello from eu. ')
    await whenTextEverywhere(page, 'hello from eu.')

    // Drop what eu sends to us, from the page's button.
    await page.click('#links .direction[data-from="eu"][data-to="us"] button[data-action="cut"]')
    await page.waitForFunction(() => document.querySelector('#topology line[data-from="eu"][data-to="us"]')?.getAttribute('data-state') === 'cut', null, WAIT)
    expect(await linkState(page, 'eu', 'us')).toBe('cut')
    const cutAtMs = await page.evaluate(() => Date.now())

    // us no longer completes exchanges with eu: its relay's staleness towards eu grows, and with it its editor's bound.
    await whenMode(page, 'us', 'degraded')
    const us = await page.evaluate(() => window.__regions?.latest('us'))
    expect(us?.boundMs === null || (us?.boundMs ?? 0) > T).toBe(true)
    // ap still exchanges with both: its bound stays within T.
    expect(await modeOf(page, 'ap')).toBe('healthy')
    // The chart shows it: us's line ends above the T line, and its mode strip ends degraded.
    await page.waitForFunction(() => chartNow('us')?.aboveT === true && chartNow('us')?.mode === 'degraded', null, WAIT)
    expect(await page.evaluate(() => chartNow('ap'))).toEqual({ aboveT: false, mode: 'healthy' })

    // Editing goes on during the partition (degraded is writable).
    await typeIn(page, 'us', 'us writes during the cut. ')
    await page.waitForFunction(() => window.__regions?.client('us')?.provider.pendingCount === 0, null, WAIT)
    // Let the bound climb further so the picture shows it clearly, then take it.
    await page.waitForFunction(([t]) => (window.__regions?.latest('us')?.boundMs ?? Infinity) > 3 * (t as number), [T], WAIT)
    await page.screenshot({ path: join(SCREENSHOTS, 'regions-partition.png') })

    await page.click('#links button[data-action="heal"][data-a="eu"][data-b="us"]')
    await whenAllHealthy(page)
    expect(await linkState(page, 'eu', 'us')).not.toBe('cut')
    await page.waitForFunction(() => document.querySelector('#topology line[data-from="eu"][data-to="us"]')?.getAttribute('data-state') === 'ok', null, WAIT)
    await whenTextEverywhere(page, 'us writes during the cut.')
    await page.waitForFunction(() => chartNow('us')?.aboveT === false && chartNow('us')?.mode === 'healthy', null, WAIT)
    const texts = await page.evaluate(() => window.__regions?.regions.map((r) => window.__regions?.text(r)))
    expect(new Set(texts).size).toBe(1)

    // us went healthy → degraded → healthy after the cut, and its bound came back under T.
    const usSince = await page.evaluate((from) => window.__regions?.samples('us').filter((s) => s.atMs >= from) ?? [], cutAtMs)
    const modes = usSince.map((s) => s.mode).filter((m, i, all) => i === 0 || all[i - 1] !== m)
    expect(modes).toEqual(['healthy', 'degraded', 'healthy'])
    expect(Math.max(...usSince.map((s) => s.boundMs ?? Infinity))).toBeGreaterThan(3 * T)
    const lastDegraded = usSince.map((s) => s.mode).lastIndexOf('degraded')
    expect(Math.min(...usSince.slice(lastDegraded + 1).map((s) => s.boundMs ?? Infinity))).toBeLessThanOrEqual(T)
    await page.context().close()
  })

  it('killing a relay from the page: its editor goes offline and queues edits; after restart they reach the other regions', async () => {
    const page = await openDemo()
    await whenAllHealthy(page)
    await page.click('.editor[data-region="ap"] button[data-action="kill"]')
    await whenMode(page, 'ap', 'offline')
    await page.waitForFunction(() => document.querySelector('#topology line[data-from="ap"][data-to="eu"]')?.getAttribute('data-state') === 'relay-down', null, WAIT)
    await typeIn(page, 'ap', 'ap wrote this while its relay was down. ')
    expect(await page.evaluate(() => window.__regions?.client('ap')?.provider.pendingCount)).toBeGreaterThan(0)

    await page.click('.editor[data-region="ap"] button[data-action="restart"]')
    await whenAllHealthy(page)
    await whenTextEverywhere(page, 'ap wrote this while its relay was down.')
    await page.context().close()
  })
})
