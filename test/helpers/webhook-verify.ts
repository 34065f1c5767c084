/**
 * The README's webhook verification snippet ("Webhooks", the js block after
 * `<!-- webhook-verify -->`), loaded as written: the tests run the very code
 * users copy.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export type VerifyWebhook = (secret: string, rawBody: string, headers: Record<string, string | undefined>, nowSeconds?: number) => boolean

export function readmeVerifySnippet(): string {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const match = /<!-- webhook-verify -->\n```js\n([\s\S]*?)\n```/.exec(readme)
  if (match?.[1] === undefined) throw new Error('README has no <!-- webhook-verify --> js block')
  return match[1]
}

export async function loadReadmeVerifier(): Promise<VerifyWebhook> {
  const file = join(mkdtempSync(join(tmpdir(), 'meridian-verify-')), 'verify.mjs')
  writeFileSync(file, readmeVerifySnippet())
  const mod = (await import(pathToFileURL(file).href)) as { verifyMeridianWebhook: VerifyWebhook }
  return mod.verifyMeridianWebhook
}
