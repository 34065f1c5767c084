/**
 * CLI flags for webhooks (README, "Webhooks"): `--webhook <url>` (repeatable),
 * `--webhook-docs <glob>` (repeatable, for every --webhook; default every
 * document), `--webhook-secret <s>`, the timing flags, and MERIDIAN_WEBHOOKS:
 * a JSON array of webhook objects (url, docs, secret, id, debounceMs,
 * maxAttempts, initialBackoffMs, maxBackoffMs, timeoutMs, ...) for per-webhook
 * settings. Flags win over environment variables.
 */
import type { ChangeFeedOptions, WebhookOptions } from '@meridian/relay'
import { CliError } from './cli-error.js'

export const WEBHOOK_PARSE_OPTIONS = {
  webhook: { type: 'string', multiple: true },
  'webhook-docs': { type: 'string', multiple: true },
  'webhook-secret': { type: 'string' },
  'webhook-lease-ttl-ms': { type: 'string' },
  'webhook-poll-interval-ms': { type: 'string' }
} as const

export const WEBHOOK_USAGE = `
Webhooks (signed POSTs of every change, at least once; README "Webhooks"):
  --webhook <url>                 POST changes to this http(s) URL; repeatable (MERIDIAN_WEBHOOK_URLS, comma-separated)
  --webhook-docs <glob>           only documents matching; repeatable, for every --webhook (MERIDIAN_WEBHOOK_DOCS, comma-separated; default **)
  --webhook-secret <s>            HMAC-SHA256 key of the Meridian-Signature header, 16+ characters (MERIDIAN_WEBHOOK_SECRET)
  --webhook-lease-ttl-ms <n>      lease of the region's delivering relay; a dead one is replaced after this (MERIDIAN_WEBHOOK_LEASE_TTL_MS, default 30000)
  --webhook-poll-interval-ms <n>  how often the change log is read for other relays' changes (MERIDIAN_WEBHOOK_POLL_INTERVAL_MS, default 500)
  MERIDIAN_WEBHOOKS               JSON array of webhooks with their own settings, e.g.
                                  [{"url":"https://example.com/hook","docs":["orders/**"],"secret":"...","debounceMs":2000}]
`

export interface WebhookConfig {
  webhooks: WebhookOptions[]
  changeFeed: ChangeFeedOptions
}

const list = (flag: string[] | undefined, env: string | undefined): string[] =>
  flag ?? (env ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0)

export function parseWebhooks(values: Record<string, unknown>, env: Record<string, string | undefined>): WebhookConfig {
  const urls = list(values.webhook as string[] | undefined, env.MERIDIAN_WEBHOOK_URLS)
  const docs = list(values['webhook-docs'] as string[] | undefined, env.MERIDIAN_WEBHOOK_DOCS)
  const secret = (values['webhook-secret'] as string | undefined) ?? env.MERIDIAN_WEBHOOK_SECRET
  const webhooks: WebhookOptions[] = []
  const json = env.MERIDIAN_WEBHOOKS
  if (json !== undefined && json.trim() !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      throw new CliError('MERIDIAN_WEBHOOKS must be a JSON array of webhook objects')
    }
    if (!Array.isArray(parsed)) throw new CliError('MERIDIAN_WEBHOOKS must be a JSON array of webhook objects')
    for (const entry of parsed as unknown[]) {
      if (entry === null || typeof entry !== 'object') throw new CliError('MERIDIAN_WEBHOOKS entries must be objects')
      const w = entry as Partial<WebhookOptions>
      const own = w.secret ?? secret
      if (own === undefined) throw new CliError('a webhook in MERIDIAN_WEBHOOKS has no secret (give "secret" or --webhook-secret)')
      webhooks.push({ ...(w as WebhookOptions), secret: own })
    }
  }
  if (urls.length > 0 && secret === undefined) throw new CliError('--webhook needs --webhook-secret (receivers verify deliveries with it)')
  for (const url of urls) webhooks.push({ url, secret: secret as string, ...(docs.length > 0 ? { docs } : {}) })
  const ms = (flag: string, envName: string): number | undefined => {
    const text = (values[flag] as string | undefined) ?? env[envName]
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || Number(text) <= 0) throw new CliError(`--${flag} must be a positive integer, got "${text}"`)
    return Number(text)
  }
  const leaseTtlMs = ms('webhook-lease-ttl-ms', 'MERIDIAN_WEBHOOK_LEASE_TTL_MS')
  const pollIntervalMs = ms('webhook-poll-interval-ms', 'MERIDIAN_WEBHOOK_POLL_INTERVAL_MS')
  return {
    webhooks,
    changeFeed: { ...(leaseTtlMs !== undefined ? { leaseTtlMs } : {}), ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}) }
  }
}
