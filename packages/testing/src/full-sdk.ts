import { crossTabSharing } from '@meridian/client/cross-tab'
import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { presence } from '@meridian/client/presence'
import { holdRefusedWrites } from '@meridian/client/refused-writes'

/**
 * The optional parts of the SDK, which the kit's clients always have: the
 * policy engine (modes, staleness bound, capabilities), the delete-set
 * digest exchange, presence (awareness), cross-tab sharing (used only by
 * clients with `crossTab: true` or `indexedDbStore()`) and holding refused writes. A test can still pass
 * e.g. `policyEngine: undefined` in its client options to run without one.
 */
export const FULL_SDK = { policyEngine, deleteDigest, presence, crossTabSharing, holdRefusedWrites } as const
