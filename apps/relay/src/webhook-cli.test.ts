import { describe, expect, it } from 'vitest'
import { parseCli, type CliConfig } from './cli-options.js'

const parse = (argv: string[], env: Record<string, string> = {}): CliConfig => {
  const config = parseCli(['--auth', 'none', ...argv], env)
  if (config === 'help') throw new Error('unexpected help')
  return config
}

describe('webhook flags', () => {
  it('--webhook (repeatable) with --webhook-docs and --webhook-secret, plus the timing flags', () => {
    const config = parse(['--webhook', 'https://a.example/hook', '--webhook', 'https://b.example/hook', '--webhook-docs', 'orders/**', '--webhook-secret', 'sixteen-characters!', '--webhook-lease-ttl-ms', '6000'])
    expect(config.webhooks.webhooks).toEqual([
      { url: 'https://a.example/hook', secret: 'sixteen-characters!', docs: ['orders/**'] },
      { url: 'https://b.example/hook', secret: 'sixteen-characters!', docs: ['orders/**'] }
    ])
    expect(config.webhooks.changeFeed).toEqual({ leaseTtlMs: 6000 })
  })

  it('MERIDIAN_WEBHOOKS gives per-webhook settings; the secret may come from --webhook-secret', () => {
    const config = parse(['--webhook-secret', 'sixteen-characters!'], { MERIDIAN_WEBHOOKS: JSON.stringify([{ url: 'https://a.example/hook', debounceMs: 50 }]) })
    expect(config.webhooks.webhooks).toEqual([{ url: 'https://a.example/hook', debounceMs: 50, secret: 'sixteen-characters!' }])
  })

  it('refuses a webhook without a secret and malformed JSON', () => {
    expect(() => parse(['--webhook', 'https://a.example/hook'])).toThrow(/--webhook-secret/)
    expect(() => parse([], { MERIDIAN_WEBHOOKS: '{nope' })).toThrow(/JSON array/)
    expect(() => parse(['--webhook-poll-interval-ms', '0'])).toThrow(/positive integer/)
  })
})
