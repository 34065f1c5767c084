import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '../server.js'
import type { DeliveryOutcome, WebhookOutcome } from './deliverer.js'

const ADMIN = 'admin-token-for-webhook-tests'

/** The next outcome of that kind on `relay` (subscribe before the action that leads to it). */
const nextOutcome = (relay: Relay, outcome: DeliveryOutcome): Promise<WebhookOutcome> =>
  new Promise((resolve) => {
    const off = relay.onWebhookOutcome((event) => {
      if (event.outcome !== outcome) return
      off()
      resolve(event)
    })
  })

describe('webhook dead letters on a relay', () => {
  const relays: Relay[] = []
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close()
  })

  it('show in /metrics and /v1/status, and POST /v1/webhooks/dead-letters/retry delivers them', async () => {
    let answer = 500
    const delivered: string[] = []
    const relay = await buildRelay({
      storage: new MemoryStorageAdapter(),
      adminToken: ADMIN,
      webhooks: [{ url: 'http://127.0.0.1:9/hook?key=not-shown', secret: 'a-webhook-secret-for-tests', id: 'idx', debounceMs: 0, maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 }],
      changeFeed: {
        pollIntervalMs: 20,
        webhookPost: async (_url, body) => {
          if (answer === 204) delivered.push((JSON.parse(body) as { doc: string }).doc)
          return answer
        }
      }
    })
    relays.push(relay)
    const deadLettered = nextOutcome(relay, 'dead_lettered')
    const room = await relay.rooms.acquire('inbox')
    await room.transact((d) => d.getMap('m').set('a', 1), { kind: 'server', actor: 'test' })
    relay.rooms.release(room)
    const admin = { authorization: `Bearer ${ADMIN}` }
    type Status = { webhooks: { id: string; url: string; delivering: boolean; deadLetters: { doc: string; attempts: number; lastError: string }[] }[] }
    const status = async (): Promise<Status> => (await relay.app.inject({ method: 'GET', url: '/v1/status', headers: admin })).json()
    expect(await deadLettered).toEqual({ webhook: 'idx', doc: 'inbox', outcome: 'dead_lettered' })
    const hook = (await status()).webhooks[0]
    expect(hook).toMatchObject({ id: 'idx', url: 'http://127.0.0.1:9/hook', delivering: true })
    expect(hook?.deadLetters).toMatchObject([{ doc: 'inbox', attempts: 2, lastError: 'the receiver answered HTTP 500' }])
    const metrics = (await relay.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toContain('meridian_relay_webhook_dead_letters{webhook="idx"} 1')
    expect(metrics).toContain('meridian_relay_webhook_deliveries_total{webhook="idx",outcome="dead_lettered"} 1')
    expect(metrics).not.toContain('inbox')
    // The receiver is fixed; the operator retries.
    answer = 204
    const delivery = nextOutcome(relay, 'delivered')
    const retry = await relay.app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/retry', headers: admin, payload: { webhook: 'idx' } })
    expect(retry.json()).toEqual({ retried: 1 })
    expect(await delivery).toEqual({ webhook: 'idx', doc: 'inbox', outcome: 'delivered' })
    expect(delivered).toEqual(['inbox'])
    expect((await status()).webhooks[0]?.deadLetters).toEqual([])
    expect((await relay.app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/retry', headers: admin, payload: { webhook: 'nope' } })).json()).toMatchObject({ code: 'ERR_WEBHOOK_UNKNOWN' })
    expect((await relay.app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/retry', payload: {} })).statusCode).toBe(401)
  })
})
