/**
 * `GET /v1/status`: one JSON object made of named sections. The relay
 * contributes `relay`, `auth`, `connections`, `documents` and `limits`; other
 * parts (the mesh, the policy layer) add theirs with
 * `relay.registerStatusSection(name, provider)`.
 */
import { RelayError } from './errors.js'

export type StatusProvider = () => unknown

export class StatusRegistry {
  private readonly sections = new Map<string, StatusProvider>()

  /** Adds a section; its provider runs on every request (it may return a promise). Returns the unregister function. */
  register(name: string, provider: StatusProvider): () => void {
    if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/.test(name)) throw new RelayError('ERR_RELAY_OPTIONS', `invalid status section name ${JSON.stringify(name)}`)
    if (this.sections.has(name)) throw new RelayError('ERR_RELAY_OPTIONS', `status section ${name} is already registered`)
    this.sections.set(name, provider)
    return () => {
      if (this.sections.get(name) === provider) this.sections.delete(name)
    }
  }

  /** Every section; a provider that throws yields `{ error }` for its section instead of failing the whole status. */
  async collect(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {}
    for (const [name, provider] of this.sections) {
      try {
        out[name] = await provider()
      } catch (err) {
        out[name] = { error: err instanceof Error ? err.message : String(err) }
      }
    }
    return out
  }
}
