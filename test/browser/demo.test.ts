/**
 * The demo app and the client SDK in a real browser: Debian's Chromium driven
 * by playwright-core. The demo is built with Vite into a temporary folder and
 * served by an in-process relay (MemoryStorageAdapter) through the same static
 * handler as `meridian-relay --serve-demo`. Waits are on state the page exposes
 * (`window.__meridian`), never sleeps. Screenshots go to
 * test-results/screenshots/ (git-ignored).
 *
 * Skipped, with the reason printed, where /usr/bin/chromium is missing
 * (`.ci/run` installs it under CI). MERIDIAN_CHROMIUM overrides the path.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { serveDemo } from '../../apps/relay/src/static.js'
import { startAckWithholdingProxy, type AckWithholdingProxy } from './ack-withholding-proxy.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? '/usr/bin/chromium'
const chromiumPresent = existsSync(CHROMIUM)
if (!chromiumPresent) {
  console.warn(`[test/browser] skipped: no Chromium at ${CHROMIUM} (install it with \`apt-get install chromium\`, or set MERIDIAN_CHROMIUM)`)
}
const SCREENSHOTS = join(repo, 'test-results', 'screenshots')
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const WAIT = { timeout: 15_000 }

/** What the page exposes as window.__meridian (see apps/demo/src/main.ts). */
interface PageApi {
  doc: Y.Doc
  provider: {
    status: string
    synced: boolean
    loaded: boolean
    pendingCount: number
    persistence: string
    whenPersisted(): Promise<void>
  }
  todos(): { id: string; text: string; done: boolean }[]
  addTodo(text: string): void
  state(): { durability: string; decision: { mode: string; capabilities: { name: string; on: boolean; reasons: string[] }[] }; stalenessMs: number | null }
  offlineReady: boolean
}
declare const window: { __meridian?: PageApi }

let dist: string
let relay: Relay
let storage: StorageAdapter
let httpBase: string
let relayUrl: string
let browser: Browser
const contexts: BrowserContext[] = []

describe.skipIf(!chromiumPresent)('the demo in Chromium', () => {
  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'meridian-demo-'))
    const { build } = await import('vite')
    await build({ mode: 'production', root: join(repo, 'apps/demo'), configFile: join(repo, 'apps/demo/vite.config.ts'), logLevel: 'warn', build: { outDir: dist, emptyOutDir: true, sourcemap: false } })
    storage = new MemoryStorageAdapter()
    relay = await buildRelay({ storage, nodeId: 'relay-1' })
    await serveDemo(relay.app, { dir: dist })
    relayUrl = await relay.listen({ port: 0, host: '127.0.0.1' })
    httpBase = relayUrl.replace(/^ws:/, 'http:')
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
    await mkdir(SCREENSHOTS, { recursive: true })
  })

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await relay?.close()
    if (dist !== undefined) await rm(dist, { recursive: true, force: true })
  })

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } })
    contexts.push(context)
    return context
  }

  async function openDemo(context: BrowserContext, docName: string, query = ''): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`))
    await page.goto(`${httpBase}/demo/?doc=${encodeURIComponent(docName)}${query}`)
    await page.waitForFunction(() => window.__meridian?.provider.loaded === true, null, WAIT)
    return page
  }

  const whenSynced = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__meridian?.provider.status === 'connected' && window.__meridian.provider.synced, null, WAIT)
  const whenAcknowledged = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__meridian?.provider.status === 'connected' && window.__meridian.provider.pendingCount === 0, null, WAIT)
  const whenDisconnected = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__meridian?.provider.status === 'disconnected', null, WAIT)
  const whenTodoCount = (page: Page, count: number): Promise<unknown> =>
    page.waitForFunction((n) => window.__meridian?.todos().length === n, count, WAIT)
  const texts = (page: Page): Promise<string[]> => page.evaluate(() => window.__meridian?.todos().map((t) => t.text) ?? [])

  /** Through the real UI: type and press Enter. */
  async function typeTodo(page: Page, text: string): Promise<void> {
    await page.fill('#add-input', text)
    await page.press('#add-input', 'Enter')
    await page.waitForFunction((t) => window.__meridian?.todos().some((todo) => todo.text === t) === true, text, WAIT)
  }

  async function relayTexts(docName: string): Promise<string[]> {
    const stored = await storage.load(docName)
    const doc = new Y.Doc()
    if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
    return doc
      .getArray<Y.Map<unknown>>('todos')
      .toArray()
      .map((m) => String(m.get('text')))
  }

  it('two browser contexts edit the same document and converge', async () => {
    const docName = 'converge'
    const [a, b] = await Promise.all([newContext(), newContext()])
    const [pageA, pageB] = await Promise.all([openDemo(a, docName), openDemo(b, docName)])
    await Promise.all([whenSynced(pageA), whenSynced(pageB)])
    await Promise.all([typeTodo(pageA, 'milk (from A)'), typeTodo(pageB, 'bread (from B)')])
    await Promise.all([whenTodoCount(pageA, 2), whenTodoCount(pageB, 2)])
    expect(await texts(pageA)).toEqual(await texts(pageB))
    expect((await texts(pageA)).sort()).toEqual(['bread (from B)', 'milk (from A)'])
    await Promise.all([whenAcknowledged(pageA), whenAcknowledged(pageB)])
    expect((await relayTexts(docName)).sort()).toEqual(['bread (from B)', 'milk (from A)'])
  })

  it('offline: edits survive a reload from IndexedDB and reach the other context once online', async () => {
    const docName = 'offline-reload'
    const [a, b] = await Promise.all([newContext(), newContext()])
    const [pageA, pageB] = await Promise.all([openDemo(a, docName), openDemo(b, docName)])
    await Promise.all([whenSynced(pageA), whenSynced(pageB)])
    // The page itself must load offline too: wait until the service worker cached it.
    await pageA.waitForFunction(() => window.__meridian?.offlineReady === true, null, WAIT)

    await a.setOffline(true)
    await whenDisconnected(pageA)
    await typeTodo(pageA, 'written offline 1')
    await typeTodo(pageA, 'written offline 2')
    await pageA.waitForFunction(() => window.__meridian?.state().durability === 'local', null, WAIT)
    expect(await texts(pageB)).toEqual([])

    await pageA.reload() // still offline: the page comes from the service worker, the document from IndexedDB
    await pageA.waitForFunction(() => window.__meridian?.provider.loaded === true, null, WAIT)
    expect(await texts(pageA)).toEqual(['written offline 1', 'written offline 2'])
    // While offline the provider keeps retrying with backoff (connecting ↔ disconnected): wait for the
    // disconnected state rather than sampling one moment of the cycle.
    await pageA.waitForFunction(() => window.__meridian?.provider.status === 'disconnected', null, WAIT)
    expect(await pageA.evaluate(() => window.__meridian?.provider.pendingCount)).toBe(2)

    await a.setOffline(false)
    await whenAcknowledged(pageA)
    await whenTodoCount(pageB, 2)
    expect(await texts(pageB)).toEqual(['written offline 1', 'written offline 2'])
    expect(await relayTexts(docName)).toEqual(['written offline 1', 'written offline 2'])
  })

  it('two tabs of one context, offline, see each other’s edits; after reconnect the relay has both; the shared store stays whole', async () => {
    const docName = 'tabs'
    const context = await newContext()
    const tab1 = await openDemo(context, docName)
    const tab2 = await openDemo(context, docName)
    await Promise.all([whenSynced(tab1), whenSynced(tab2), tab1.waitForFunction(() => window.__meridian?.offlineReady === true, null, WAIT)])

    await context.setOffline(true)
    await Promise.all([whenDisconnected(tab1), whenDisconnected(tab2)])
    await typeTodo(tab1, 'from tab 1')
    await whenTodoCount(tab2, 1)
    await typeTodo(tab2, 'from tab 2')
    await whenTodoCount(tab1, 2)

    // Both tabs write to the shared IndexedDB store at the same time.
    const burst = (page: Page, label: string): Promise<void> =>
      page.evaluate(async (l) => {
        for (let i = 0; i < 20; i++) {
          window.__meridian?.addTodo(`${l} #${i}`)
          if (i % 4 === 3) await new Promise((r) => setTimeout(r, 0))
        }
        await window.__meridian?.provider.whenPersisted()
      }, label)
    await Promise.all([burst(tab1, 'burst 1'), burst(tab2, 'burst 2')])
    await Promise.all([whenTodoCount(tab1, 42), whenTodoCount(tab2, 42)])
    expect(await texts(tab1)).toEqual(await texts(tab2))
    expect(await relayTexts(docName)).toEqual([])

    await context.setOffline(false)
    await Promise.all([whenAcknowledged(tab1), whenAcknowledged(tab2)])
    const relayed = await relayTexts(docName)
    expect(relayed).toHaveLength(42)
    expect(relayed).toEqual(expect.arrayContaining(['from tab 1', 'from tab 2', 'burst 1 #19', 'burst 2 #19']))

    // A fresh tab with no other tab around loads everything from IndexedDB alone, nothing left pending.
    await tab1.close()
    await tab2.close()
    await context.setOffline(true)
    const tab3 = await openDemo(context, docName)
    expect((await texts(tab3)).sort()).toEqual([...relayed].sort())
    expect(await tab3.evaluate(() => window.__meridian?.provider.pendingCount)).toBe(0)
    await context.setOffline(false)
  })

  it('IndexedDB closed under the page (another tab upgrades it): memory-only, said so, and edits still reach the relay', async () => {
    const docName = 'versionchange'
    const context = await newContext()
    const page = await openDemo(context, docName)
    await whenSynced(page)
    await page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          // What a newer version of the app in another tab does.
          const request = indexedDB.open('meridian', 2)
          request.onsuccess = () => {
            request.result.close()
            resolve()
          }
          request.onerror = () => reject(request.error)
        })
    )
    await page.waitForFunction(() => window.__meridian?.provider.persistence === 'memory-only', null, WAIT)
    await page.waitForFunction(() => document.querySelector('[data-field="local store"]')?.textContent?.startsWith('memory only') === true, null, WAIT)
    expect(await page.textContent('#events')).toContain('ERR_PERSISTENCE')
    await typeTodo(page, 'kept in memory, sent to the relay')
    await whenAcknowledged(page)
    expect(await relayTexts(docName)).toEqual(['kept in memory, sent to the relay'])
  })

  it('the panel’s controls: “go offline” queues edits locally; picking another relay moves the connection', async () => {
    const proxy = await startAckWithholdingProxy(relayUrl)
    try {
      // Two relays to choose from: one that never acknowledges (first), and the relay itself.
      const page = await openDemo(await newContext(), 'controls', `&relays=${encodeURIComponent(proxy.url)}`)
      await whenSynced(page)
      await page.check('#offline-toggle')
      await whenDisconnected(page)
      expect(await page.textContent('[data-field="connection"]')).toBe('offline (you turned it off)')
      await typeTodo(page, 'queued while switched off')
      await page.uncheck('#offline-toggle')
      await whenSynced(page)
      await page.waitForFunction(() => window.__meridian?.state().durability === 'local', null, WAIT)
      expect(await page.evaluate(() => window.__meridian?.provider.pendingCount)).toBe(1) // the proxy withholds the ack

      await page.selectOption('#relay-select', relayUrl)
      await whenAcknowledged(page)
      await page.waitForFunction(() => window.__meridian?.state().durability === 'relay', null, WAIT)
      expect(await page.textContent('[data-field="relay in use"]')).toContain(`relay-1 · region default · ${relayUrl}`)
      expect(new URL(page.url()).searchParams.get('relay')).toBe(relayUrl)
    } finally {
      await proxy.close()
    }
  })

  describe('screenshots of the status panel', () => {
    let proxy: AckWithholdingProxy | null = null
    afterAll(async () => {
      await proxy?.close()
    })

    async function seed(page: Page): Promise<void> {
      for (const text of ['Sketch the offline banner', 'Review relay failover', 'Ship the demo']) await typeTodo(page, text)
      await page.click('#todo-list li:first-child input[type=checkbox]')
    }

    it('healthy: connected, everything acknowledged, every capability on', async () => {
      const page = await openDemo(await newContext(), 'screenshot-healthy')
      await whenSynced(page)
      await seed(page)
      await whenAcknowledged(page)
      await page.waitForFunction(() => window.__meridian?.state().durability === 'relay' && window.__meridian.state().decision.mode === 'healthy', null, WAIT)
      await page.screenshot({ path: join(SCREENSHOTS, 'healthy.png') })
    })

    it('offline: no network, edits committed locally and queued', async () => {
      const context = await newContext()
      const page = await openDemo(context, 'screenshot-offline')
      await whenSynced(page)
      await seed(page)
      await whenAcknowledged(page)
      await context.setOffline(true)
      await whenDisconnected(page)
      await typeTodo(page, 'Written on the train')
      await page.waitForFunction(() => window.__meridian?.state().durability === 'local' && window.__meridian.state().decision.mode === 'offline', null, WAIT)
      await page.screenshot({ path: join(SCREENSHOTS, 'offline.png') })
      await context.setOffline(false)
    })

    it('degraded: the relay is reachable but withholds acknowledgements; checkout sheds as staleness passes 2 s', async () => {
      proxy = await startAckWithholdingProxy(relayUrl)
      const page = await openDemo(await newContext(), 'screenshot-degraded', `&relays=${encodeURIComponent(proxy.url)}`)
      await whenSynced(page)
      await seed(page)
      const checkoutShed = (): boolean => {
        const s = window.__meridian?.state()
        const checkout = s?.decision.capabilities.find((c) => c.name === 'checkout')
        return s?.decision.mode === 'degraded' && checkout?.on === false && checkout.reasons.includes('stale')
      }
      await page.waitForFunction(checkoutShed, null, WAIT)
      const state = await page.evaluate(() => window.__meridian?.state())
      expect(state?.durability).toBe('local')
      expect(state?.decision.capabilities.filter((c) => c.on).map((c) => c.name)).toEqual(['comments', 'upload'])
      expect(proxy.withheld()).toBeGreaterThan(0)
      // The writes did reach the relay; only the confirmation is missing.
      expect(await relayTexts('screenshot-degraded')).toHaveLength(3)
      await page.screenshot({ path: join(SCREENSHOTS, 'degraded.png') })
    })
  })
})
