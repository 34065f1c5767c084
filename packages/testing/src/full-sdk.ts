import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { presence } from '@meridian/client/presence'

/**
 * The optional parts of the SDK, which the kit's clients always have: the
 * policy engine (modes, staleness bound, capabilities), the delete-set
 * digest exchange and presence (awareness). A test can still pass
 * `policyEngine: undefined`, `deleteDigest: undefined` or `presence: undefined`
 * in its client options to run without one.
 */
export const FULL_SDK = { policyEngine, deleteDigest, presence } as const
