/**
 * The editor demo (apps/editor: React, Tiptap, y-prosemirror, @meridian/react)
 * in Debian's Chromium driven by playwright-core, served by an in-process
 * relay through the same static handler as `meridian-relay --serve-editor`.
 * Waits are on state the page exposes (`window.__editor`) or on the DOM,
 * never sleeps. Screenshots go to test-results/screenshots/ (git-ignored);
 * with MERIDIAN_UPDATE_DOCS=1 the two-cursor one also replaces docs/editor.png.
 *
 * Skipped, with the reason printed, where /usr/bin/chromium is missing
 * (`.ci/run` installs it under CI). MERIDIAN_CHROMIUM overrides the path.
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { EDITOR_PREFIX, serveDemo } from '../../apps/relay/src/static.js'
import { startHoldProxy } from './editor-hold-proxy.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? '/usr/bin/chromium'
const chromiumPresent = existsSync(CHROMIUM)
if (!chromiumPresent) {
  console.warn(`[test/browser] skipped: no Chromium at ${CHROMIUM} (install it with \`apt-get install chromium\`, or set MERIDIAN_CHROMIUM)`)
}
const SCREENSHOTS = join(repo, 'test-results', 'screenshots')
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const WAIT = { timeout: 20_000 }
/** y-protocols drops a silent peer after 30 s; a closed one must be gone within that (plus slack for a loaded machine). */
const AWARENESS_WAIT = { timeout: 40_000 }

/** What the page exposes as window.__editor (see apps/editor/src/page-api.ts). */
interface PageApi {
  provider: { status: string; synced: boolean; loaded: boolean; pendingCount: number }
  text(): string
  carets(): string[]
  comments(): string[]
}
declare const window: { __editor?: PageApi; __editorOfflineReady?: boolean }

let dist: string
let relay: Relay
let storage: StorageAdapter
let httpBase: string
let relayUrl: string
let browser: Browser
const contexts: BrowserContext[] = []

// Real typing in two or three browsers on a shared 2-core machine: generous per-test time, never a timed assertion.
describe.skipIf(!chromiumPresent)('the editor demo in Chromium', { timeout: 150_000 }, () => {
  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'meridian-editor-'))
    const { build } = await import('vite')
    await build({ mode: 'production', root: join(repo, 'apps/editor'), configFile: join(repo, 'apps/editor/vite.config.ts'), logLevel: 'error', build: { outDir: dist, emptyOutDir: true, sourcemap: false } })
    storage = new MemoryStorageAdapter()
    relay = await buildRelay({ storage, nodeId: 'relay-1' })
    await serveDemo(relay.app, { dir: dist, prefix: EDITOR_PREFIX })
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
    const context = await browser.newContext({ viewport: { width: 1180, height: 640 } })
    contexts.push(context)
    return context
  }

  async function openEditor(context: BrowserContext, docName: string, name: string, query = ''): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[page error ${name}] ${error.message}`))
    await page.goto(`${httpBase}${EDITOR_PREFIX}?doc=${encodeURIComponent(docName)}&name=${encodeURIComponent(name)}${query}`)
    await whenLoaded(page)
    return page
  }

  const whenLoaded = (page: Page): Promise<unknown> => page.waitForFunction(() => window.__editor?.provider.loaded === true, null, WAIT)
  const whenSynced = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__editor?.provider.status === 'connected' && window.__editor.provider.synced, null, WAIT)
  const whenAcknowledged = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => window.__editor?.provider.status === 'connected' && window.__editor.provider.pendingCount === 0, null, WAIT)
  const text = (page: Page): Promise<string> => page.evaluate(() => window.__editor?.text() ?? '')
  async function whenTextHas(page: Page, parts: string[]): Promise<void> {
    try {
      await page.waitForFunction((ps) => ps.every((p) => window.__editor?.text().includes(p) === true), parts, WAIT)
    } catch (error) {
      throw new Error(`text never held ${JSON.stringify(parts)}; it is ${JSON.stringify(await text(page))}`, { cause: error })
    }
  }
  const carets = (page: Page): Promise<string[]> => page.evaluate(() => window.__editor?.carets() ?? [])

  /** Types through the real editor: focus it, put the caret at the end, type. */
  async function typeAtEnd(page: Page, words: string): Promise<void> {
    await page.click('.prose')
    await page.keyboard.press('Control+End')
    await page.keyboard.type(words)
  }

  /** Types at the start of the document (Ctrl+Home). */
  async function typeAtStart(page: Page, words: string): Promise<void> {
    await page.click('.prose')
    await page.keyboard.press('Control+Home')
    await page.keyboard.type(words)
  }

  async function relayText(docName: string): Promise<string> {
    const stored = await storage.load(docName)
    const doc = new Y.Doc()
    if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
    return doc.getXmlFragment('body').toString()
  }

  it('two contexts type at once; one goes offline, types, reloads offline and comes back: both converge; cursors carry names; no ghosts', async () => {
    const docName = 'converge'
    const [a, b] = await Promise.all([newContext(), newContext()])
    const [alice, bob] = await Promise.all([openEditor(a, docName, 'Alice'), openEditor(b, docName, 'Bob')])
    await Promise.all([whenSynced(alice), whenSynced(bob)])
    // The page itself must load offline too: wait until the service worker cached it.
    await alice.waitForFunction(() => window.__editorOfflineReady === true, null, WAIT)

    // Both type at once. Typed character by character near the same spot, the two runs may interleave (the
    // editor moves a caret past a remote insert): what must hold is that both converge on one text holding
    // every character each of them typed.
    await typeAtEnd(alice, 'Title. ')
    await whenTextHas(bob, ['Title.'])
    await Promise.all([typeAtEnd(alice, 'Alice writes the intro. '), typeAtStart(bob, 'Bob adds a line. ')])
    const typed = 'Title. Alice writes the intro. Bob adds a line. '
    const letters = (t: string): string => [...t.replace(/\s/g, '')].sort().join('')
    for (const page of [alice, bob]) await page.waitForFunction((n) => (window.__editor?.text().replace(/\s/g, '').length ?? 0) >= n, typed.replace(/\s/g, '').length, WAIT)
    const intro = (await text(alice)).trim()
    expect(await text(bob)).toBe(await text(alice))
    expect(letters(intro)).toBe(letters(typed))
    // Each sees the other's caret, labelled with the other's name, and never its own.
    await alice.waitForFunction(() => window.__editor?.carets().join() === 'Bob', null, WAIT)
    await bob.waitForFunction(() => window.__editor?.carets().join() === 'Alice', null, WAIT)

    await a.setOffline(true)
    await alice.waitForFunction(() => window.__editor?.provider.status !== 'connected', null, WAIT)
    await typeAtEnd(alice, 'Written offline. ')
    await alice.waitForFunction(() => document.querySelector('#save-state')?.getAttribute('data-level') === 'local', null, WAIT)
    await typeAtEnd(bob, 'Bob meanwhile. ')
    expect(await text(bob)).not.toContain('Written offline.')

    await alice.reload() // still offline: the page from the service worker, the document from IndexedDB
    await whenLoaded(alice)
    await whenTextHas(alice, [intro, 'Written offline.'])
    expect(await alice.evaluate(() => window.__editor?.provider.pendingCount)).toBeGreaterThan(0)

    await a.setOffline(false)
    await whenAcknowledged(alice)
    const all = [intro, 'Written offline.', 'Bob meanwhile.']
    await Promise.all([whenTextHas(alice, all), whenTextHas(bob, all)])
    await bob.waitForFunction(() => window.__editor?.provider.pendingCount === 0, null, WAIT)
    expect(await text(alice)).toBe(await text(bob))
    expect(await relayText(docName)).toContain('Written offline.')

    // The reload left no ghost: Bob sees at most one Alice caret, exactly one once she clicks in.
    expect((await carets(bob)).filter((n) => n === 'Alice').length).toBeLessThanOrEqual(1)
    await alice.click('.prose')
    await bob.waitForFunction(() => window.__editor?.carets().join() === 'Alice', null, WAIT)

    // A third person joins, then closes the browser: the caret goes with them.
    const c = await newContext()
    const carol = await openEditor(c, docName, 'Carol')
    await whenSynced(carol)
    await typeAtEnd(carol, 'Carol was here. ')
    await bob.waitForFunction(() => window.__editor?.carets().includes('Carol') === true, null, WAIT)
    await c.close()
    await bob.waitForFunction(() => window.__editor?.carets().includes('Carol') === false, null, AWARENESS_WAIT)
    expect(await carets(bob)).toEqual(['Alice'])
  })

  it('undo takes back only one’s own edits', async () => {
    const docName = 'undo'
    const [a, b] = await Promise.all([newContext(), newContext()])
    const [alice, bob] = await Promise.all([openEditor(a, docName, 'Alice'), openEditor(b, docName, 'Bob')])
    await Promise.all([whenSynced(alice), whenSynced(bob)])
    await typeAtEnd(alice, 'mine ')
    await whenTextHas(bob, ['mine'])
    await typeAtEnd(bob, 'theirs')
    await whenTextHas(alice, ['mine', 'theirs'])
    // Typing may span several undo steps (500 ms capture window on a loaded machine): undo until the
    // button says there is nothing left of Alice's — Bob's edit is never in her stack.
    // force: a click racing the re-render that disables the button must not wait for it to be enabled again.
    for (let i = 0; i < 20 && !(await alice.isDisabled('#undo')); i++) await alice.click('#undo', { force: true })
    await alice.waitForSelector('#undo:disabled', WAIT)
    expect(await text(alice)).not.toContain('mine')
    expect(await text(alice)).toContain('theirs')
    await bob.waitForFunction(() => window.__editor?.text().includes('mine') === false, null, WAIT)
    expect(await text(bob)).toContain('theirs')
    for (let i = 0; i < 20 && !(await alice.isDisabled('#redo')); i++) await alice.click('#redo', { force: true })
    await Promise.all([whenTextHas(alice, ['mine', 'theirs']), whenTextHas(bob, ['mine', 'theirs'])])
  })

  it('the comments panel is shed while the relay’s answers are held past the bound, and comes back after', async () => {
    const proxy = await startHoldProxy(relayUrl)
    try {
      const page = await openEditor(await newContext(), 'comments', 'Dana', `&relays=${encodeURIComponent(proxy.url)}&commentsStalenessMs=1500&recoveryHoldMs=500`)
      await whenSynced(page)
      const panelState = (): Promise<string | null> => page.getAttribute('aside.comments', 'data-state')
      await page.waitForSelector('aside.comments[data-state="on"]', WAIT)
      await page.fill('#comment-input', 'Looks good')
      await page.click('#comment-add')
      await page.waitForFunction(() => window.__editor?.comments().includes('Looks good') === true, null, WAIT)

      proxy.hold()
      await typeAtEnd(page, 'Typed while the relay cannot answer. ')
      await page.waitForSelector('aside.comments[data-state="shed"]', WAIT)
      expect(await page.textContent('.shed-reason')).toContain('out of date')
      expect(await page.isDisabled('#comment-input')).toBe(true)
      expect(await page.isDisabled('#comment-add')).toBe(true)
      // The editor itself keeps working: only the capability is shed.
      await typeAtEnd(page, 'Still editing. ')
      await page.screenshot({ path: join(SCREENSHOTS, 'editor-comments-shed.png') })
      expect(proxy.held()).toBeGreaterThan(0)

      proxy.release()
      await page.waitForSelector('aside.comments[data-state="on"]', WAIT)
      expect(await panelState()).toBe('on')
      await whenAcknowledged(page)
      expect(await relayText('comments')).toContain('Still editing.')
    } finally {
      await proxy.close()
    }
  })

  it('screenshot: rich text, two people writing, a third sees both cursors', async () => {
    const docName = 'screenshot'
    const [a, b] = await Promise.all([newContext(), newContext()])
    const [alice, bob] = await Promise.all([openEditor(a, docName, 'Alice'), openEditor(b, docName, 'Bob')])
    await Promise.all([whenSynced(alice), whenSynced(bob)])
    await alice.click('.prose')
    await alice.click('button:has-text("H2")')
    await alice.keyboard.type('Launch plan')
    await alice.keyboard.press('Enter')
    await alice.keyboard.type('Offline-first means nothing typed here is ever lost: ')
    await alice.keyboard.press('Control+b')
    await alice.keyboard.type('saved on this device')
    await alice.keyboard.press('Control+b')
    await alice.keyboard.type(' first, then on the relay.')
    await alice.keyboard.press('Enter')
    await alice.click('button:has-text("• list")')
    await alice.keyboard.type('Ship the editor demo')
    await alice.keyboard.press('Enter')
    await alice.keyboard.type('Review the regions view')
    await whenTextHas(bob, ['Review the regions view'])
    // Comment first: leaving the editor for the comment box withdraws one's cursor (y-prosemirror shows focused editors only).
    await bob.fill('#comment-input', 'Can we add dates to each item?')
    await bob.click('#comment-add')
    await bob.click('.prose h2')
    await bob.keyboard.press('End')
    await bob.keyboard.type(' (draft)')
    await bob.keyboard.down('Shift')
    for (let i = 0; i < 7; i++) await bob.keyboard.press('ArrowLeft')
    await bob.keyboard.up('Shift')
    await Promise.all([whenAcknowledged(alice), whenAcknowledged(bob)])
    await alice.waitForFunction(() => window.__editor?.carets().join() === 'Bob' && window.__editor.comments().length === 1, null, WAIT)
    await alice.click('.prose li:last-child')
    await alice.keyboard.press('End')
    await bob.waitForFunction(() => window.__editor?.carets().join() === 'Alice', null, WAIT)
    // A third person, just reading, sees both cursors: that is the picture.
    const carol = await openEditor(await newContext(), docName, 'Carol')
    await whenSynced(carol)
    await carol.waitForFunction(() => window.__editor?.carets().sort().join() === 'Alice,Bob' && window.__editor.comments().length === 1, null, WAIT)
    await carol.waitForFunction(() => document.querySelector('#save-state')?.getAttribute('data-level') === 'relay', null, WAIT)
    const path = join(SCREENSHOTS, 'editor.png')
    await carol.screenshot({ path })
    if (process.env.MERIDIAN_UPDATE_DOCS === '1') await copyFile(path, join(repo, 'docs', 'editor.png'))
  })
})
