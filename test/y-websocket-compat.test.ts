import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { createTestClient as createClient, startTestRelay as startRelay, storedDoc } from '@meridian/testing'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function stockProvider(url: string, room: string, doc = new Y.Doc()): WebsocketProvider {
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
  cleanups.push(() => provider.destroy())
  return provider
}

function whenStockSynced(p: WebsocketProvider): Promise<void> {
  return p.synced ? Promise.resolve() : new Promise((resolve) => p.once('sync', (s: boolean) => s && resolve()))
}

/** Resolves once `read(doc)` equals `expected`, checked on every update (no sleeping). */
function whenContent<T>(doc: Y.Doc, read: (d: Y.Doc) => T, expected: T, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (JSON.stringify(read(doc)) !== JSON.stringify(expected)) return false
      doc.off('update', check)
      clearTimeout(timer)
      resolve()
      return true
    }
    const timer = setTimeout(() => {
      doc.off('update', check)
      reject(new Error(`content not ${JSON.stringify(expected)} within ${timeoutMs} ms: ${JSON.stringify(read(doc))}`))
    }, timeoutMs)
    if (!check()) doc.on('update', check)
  })
}

describe('compatibility with the stock y-websocket client', () => {
  it('a WebsocketProvider syncs with a Meridian relay, and with a Meridian client on the same document', async () => {
    const { relay, url, storage } = await startRelay()
    cleanups.push(() => relay.close())

    const stock = stockProvider(url, 'shared')
    await whenStockSynced(stock)
    const meridian = createClient('shared', { url })
    cleanups.push(() => meridian.provider.destroy())
    await meridian.provider.whenSynced({ timeoutMs: 5_000 })

    stock.doc.getText('t').insert(0, 'from y-websocket. ')
    await whenContent(meridian.doc, (d) => d.getText('t').toString(), 'from y-websocket. ')
    meridian.doc.getText('t').insert(meridian.doc.getText('t').length, 'from meridian.')
    await whenContent(stock.doc, (d) => d.getText('t').toString(), 'from y-websocket. from meridian.')
    await meridian.provider.whenAcknowledged({ timeoutMs: 5_000 })

    // Awareness crosses between the two clients.
    meridian.provider.awareness?.setLocalStateField('user', 'ada')
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if ([...stock.awareness.getStates().values()].some((s) => s.user === 'ada')) resolve()
      }
      stock.awareness.on('change', check)
      check()
    })

    // A late stock client gets everything from the relay, which stored both sides' edits.
    const late = stockProvider(url, 'shared')
    await whenStockSynced(late)
    await whenContent(late.doc, (d) => d.getText('t').toString(), 'from y-websocket. from meridian.')
    expect((await storedDoc(storage, 'shared')).getText('t').toString()).toBe('from y-websocket. from meridian.')
    expect(meridian.errors).toEqual([])
  })
})
