import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'

/**
 * The optional parts of the SDK, which the kit's clients always have: the
 * policy engine (modes, staleness bound, capabilities) and the delete-set
 * digest exchange. A test can still pass `policyEngine: undefined` or
 * `deleteDigest: undefined` in its client options to run without one.
 */
export const FULL_SDK = { policyEngine, deleteDigest } as const
