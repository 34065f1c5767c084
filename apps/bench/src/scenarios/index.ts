import type { Scenario } from '../scenario.js'
import { fanOut } from './fan-out.js'
import { latency } from './latency.js'
import { manyDocs } from './many-docs.js'
import { largeDocJoin } from './large-doc-join.js'
import { reconnect } from './reconnect.js'
import { coldLoad } from './cold-load.js'
import { workspace } from './workspace.js'
import { subdocs } from './subdocs.js'

/** Every scenario, in the order `npm run bench` runs them. Mesh scenarios join once multi-region lands. */
export const SCENARIOS: readonly Scenario[] = [fanOut, latency, manyDocs, largeDocJoin, reconnect, coldLoad, workspace, subdocs]

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
