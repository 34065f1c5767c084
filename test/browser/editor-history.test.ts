/**
 * The editor demo's history panel in Debian's Chromium (playwright-core),
 * served by an in-process relay as in editor.test.ts: take a version, edit,
 * preview the version (read-only), restore it, and the other context sees
 * the restore. Waits are on the DOM or on `window.__editor`, never sleeps.
 *
 * Skipped, with the reason printed, where /usr/bin/chromium is missing.
 * MERIDIAN_CHROMIUM overrides the path.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { EDITOR_PREFIX, serveDemo } from '../../apps/relay/src/static.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? '/usr/bin/chromium'
const chromiumPresent = existsSync(CHROMIUM)
if (!chromiumPresent) {
  console.warn(`[test/browser] skipped: no Chromium at ${CHROMIUM} (install it with \`apt-get install chromium\`, or set MERIDIAN_CHROMIUM)`)
}
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const WAIT = { timeout: 20_000 }

interface PageApi {
  provider: { status: string; synced: boolean; loaded: boolean; pendingCount: number }
  text(): string
}
declare const window: { __editor?: PageApi }

let dist: string
let relay: Relay
let httpBase: string
let browser: Browser
const contexts: BrowserContext[] = []

describe.skipIf(!chromiumPresent)('the editor history panel in Chromium', { timeout: 150_000 }, () => {
  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'meridian-editor-history-'))
    const { build } = await import('vite')
    await build({ mode: 'production', root: join(repo, 'apps/editor'), configFile: join(repo, 'apps/editor/vite.config.ts'), logLevel: 'error', build: { outDir: dist, emptyOutDir: true, sourcemap: false } })
    relay = await buildRelay({ storage: new MemoryStorageAdapter(), nodeId: 'relay-1' })
    await serveDemo(relay.app, { dir: dist, prefix: EDITOR_PREFIX })
    httpBase = (await relay.listen({ port: 0, host: '127.0.0.1' })).replace(/^ws:/, 'http:')
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
  })

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await relay?.close()
    if (dist !== undefined) await rm(dist, { recursive: true, force: true })
  })

  async function openEditor(docName: string, name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1180, height: 800 } })
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[page error ${name}] ${error.message}`))
    await page.goto(`${httpBase}${EDITOR_PREFIX}?doc=${encodeURIComponent(docName)}&name=${encodeURIComponent(name)}`)
    await page.waitForFunction(() => window.__editor?.provider.status === 'connected' && window.__editor.provider.synced, null, WAIT)
    return page
  }
  const text = (page: Page): Promise<string> => page.evaluate(() => window.__editor?.text() ?? '')
  async function typeAtEnd(page: Page, words: string): Promise<void> {
    await page.click('.prose')
    await page.keyboard.press('Control+End')
    await page.keyboard.type(words)
  }
  const whenText = (page: Page, has: string[], hasNot: string[] = []): Promise<unknown> =>
    page.waitForFunction(([a, b]) => {
      const t = window.__editor?.text() ?? ''
      return a.every((p) => t.includes(p)) && b.every((p) => !t.includes(p))
    }, [has, hasNot] as const, WAIT)

  it('take a version, edit, preview it, restore it: the other context sees the restore', async () => {
    const docName = 'history-panel'
    const [ann, bob] = await Promise.all([openEditor(docName, 'Ann'), openEditor(docName, 'Bob')])
    await typeAtEnd(ann, 'First draft.')
    await whenText(bob, ['First draft.'])
    await ann.waitForFunction(() => window.__editor?.provider.pendingCount === 0, null, WAIT)

    await ann.fill('#version-label', 'v1')
    await ann.click('#version-take')
    // The version is in the history document: both panels list it.
    for (const page of [ann, bob]) await page.waitForSelector('.version-list li[data-version="v1"]', WAIT)

    await typeAtEnd(ann, ' Second thoughts.')
    await whenText(bob, ['First draft. Second thoughts.'])

    await ann.click('.version-list li[data-version="v1"] button.preview')
    const preview = await ann.waitForSelector('#version-preview', WAIT)
    expect(await preview.textContent()).toBe('First draft.')
    // Previewing changed nothing.
    expect(await text(ann)).toContain('Second thoughts.')

    await ann.click('.version-list li[data-version="v1"] button.restore')
    await whenText(ann, ['First draft.'], ['Second thoughts.'])
    await whenText(bob, ['First draft.'], ['Second thoughts.'])
    expect((await text(bob)).trim()).toBe('First draft.')
    // The restore took a pre-restore version first, listed on both sides.
    for (const page of [ann, bob]) await page.waitForSelector('.version-list li[data-kind="pre-restore"]', WAIT)
    expect((await relay.history.list(docName)).map((v) => v.kind)).toEqual(['named', 'pre-restore'])
  })
})
