import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '@meridian/storage'
import { RawClient } from '@meridian/testing'
import { metric, parseMetrics, relayPool } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

describe('GET /metrics', () => {
  it('serves Prometheus text whose counters follow the traffic', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage, evictIdleAfterMs: 0, processMetrics: true })
    const before = parseMetrics((await relay.app.inject({ url: '/metrics' })).body)
    expect(metric(before, 'meridian_relay_info', { node_id: 'test-1', region: 'eu' })).toBe(1)

    const a = await RawClient.connect(url, 'm-doc')
    const b = await RawClient.connect(url, 'm-doc')
    await b.next('sync-step1')
    for (let i = 0; i < 5; i++) a.edit((d) => d.getArray('x').push([i]))
    await a.next('ack', (m) => m.upTo >= 6)
    await b.next('sync-update', () => b.doc.getArray('x').length === 5)
    const bad = await RawClient.connect(url, 'm-doc')
    await bad.next('sync-step1') // its step-2 reply goes out before the garbage
    bad.sendRaw(new Uint8Array([7, 7, 7]))
    await bad.closed()

    const res = await relay.app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(res.body).toContain('# TYPE meridian_relay_storage_write_seconds histogram')
    expect(res.body).toContain('# HELP meridian_relay_messages_received_total')
    const m = parseMetrics(res.body)
    expect(metric(m, 'meridian_relay_connections')).toBe(2)
    expect(metric(m, 'meridian_relay_connections_accepted_total')).toBe(3)
    expect(metric(m, 'meridian_relay_documents_loaded')).toBe(1)
    expect(metric(m, 'meridian_relay_document_loads_total', { result: 'ok' })).toBe(3)
    expect(metric(m, 'meridian_relay_messages_received_total', { type: 'sync_update' })).toBe(5)
    expect(metric(m, 'meridian_relay_messages_received_total', { type: 'hello' })).toBe(3)
    expect(metric(m, 'meridian_relay_bytes_received_total', { type: 'sync_update' })).toBeGreaterThan(5 * 4)
    expect(metric(m, 'meridian_relay_messages_sent_total', { type: 'sync_update' })).toBe(5)
    expect(metric(m, 'meridian_relay_messages_sent_total', { type: 'ack' })).toBeGreaterThanOrEqual(1)
    expect(metric(m, 'meridian_relay_bytes_sent_total', { type: 'sync_step1' })).toBeGreaterThan(0)
    expect(metric(m, 'meridian_relay_rejected_messages_total', { reason: 'malformed' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'protocol' })).toBe(1)
    // Every update is stored, each as its own entry; updates that arrive together share one commit
    // (group commit), so there is at least one timed commit and at most one per update.
    expect((await storage.load('m-doc'))?.updates).toHaveLength(5)
    const commits = metric(m, 'meridian_relay_storage_write_seconds_count', { op: 'append' })
    expect(commits).toBeGreaterThanOrEqual(1)
    expect(commits).toBeLessThanOrEqual(5)
    expect(metric(m, 'meridian_relay_storage_write_seconds_bucket', { op: 'append', le: '+Inf' })).toBe(commits)
    // Every update-bearing message committed: a's step 2 and 5 updates, b's and bad's step 2.
    expect(metric(m, 'meridian_relay_ack_latency_seconds_count')).toBe(8)
    expect(metric(m, 'meridian_relay_process_resident_memory_bytes')).toBeGreaterThan(0)

    await a.close()
    await b.close()
    // Eviction follows the last close after evictIdleAfterMs (0 here); poll the counter briefly.
    let after = m
    for (let i = 0; i < 100 && metric(after, 'meridian_relay_document_evictions_total') === 0; i++) {
      await new Promise((r) => setTimeout(r, 10))
      after = parseMetrics(await relay.metrics.scrape())
    }
    expect(metric(after, 'meridian_relay_document_evictions_total')).toBe(1)
    expect(metric(after, 'meridian_relay_documents_loaded')).toBe(0)
    expect(metric(after, 'meridian_relay_connections_closed_total', { reason: 'client' })).toBe(2)
  })

  it('lets the mesh and the policy layer add their series', async () => {
    const { relay } = await pool.start()
    let lag = 0
    relay.metrics.addCollector(() => relay.metrics.replicationLagSeconds.set({ region: 'us' }, (lag += 1.5)))
    relay.metrics.modeTransitions.inc({ from: 'healthy', to: 'degraded' })
    const m = parseMetrics((await relay.app.inject({ url: '/metrics' })).body)
    expect(metric(m, 'meridian_relay_replication_lag_seconds', { region: 'us' })).toBe(1.5)
    expect(metric(m, 'meridian_relay_mode_transitions_total', { from: 'healthy', to: 'degraded' })).toBe(1)
    // Without auth or an admin token, /v1/status is open.
    expect((await relay.app.inject({ url: '/v1/status' })).json()).toMatchObject({ auth: { mode: 'none' } })
  })
})

describe('Grafana dashboard', () => {
  it('is valid JSON and plots only series the relay exports', async () => {
    const text = readFileSync(new URL('../../../apps/relay/grafana/meridian-relay.json', import.meta.url), 'utf8')
    const dashboard = JSON.parse(text) as { panels: { targets?: { expr: string }[] }[] }
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)
    expect(exprs.length).toBeGreaterThan(20)
    const { relay } = await pool.start({ processMetrics: true })
    const exported = new Set((await relay.metrics.registry.getMetricsAsJSON()).map((m) => m.name))
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/meridian_relay_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''))))
    expect([...used].filter((name) => !exported.has(name))).toEqual([])
  })
})
