/** The region bus bridge's options (bus-bridge.ts), apart so the relay's options can name them. */
import type { Logger } from 'pino'

export interface BusBridgeOptions {
  /** Catch every loaded document up from storage this often (a backstop; see above). 0 disables. Default 60000. */
  catchUpIntervalMs?: number
  /** Most catch-ups (storage loads) running at once. Default 4. */
  catchUpConcurrency?: number
  /** Default: the relay's logger. */
  logger?: Logger
}

export const DEFAULT_BUS_BRIDGE_OPTIONS = Object.freeze({
  catchUpIntervalMs: 60_000,
  catchUpConcurrency: 4
})
