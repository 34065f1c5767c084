import { defineErrors } from '@meridian/base'
import { DEFAULT_POLICY_CONFIG } from './types.js'
import type { CapabilityRequirement, PolicyConfig, RequirementKind } from './types.js'

const POLICY_ERROR_CODES = { ERR_POLICY_CONFIG: 'invalid policy config' } as const

/**
 * Thrown by `validatePolicyConfig` (and everything that validates through it).
 * Branch on `code` (always `'ERR_POLICY_CONFIG'`) and `field` (the offending path,
 * e.g. `capabilities[1].maxStalenessMs`), never on `message`.
 */
export class PolicyConfigError extends defineErrors('PolicyConfigError', POLICY_ERROR_CODES) {
  readonly field: string

  constructor(field: string, message: string) {
    super('ERR_POLICY_CONFIG', `${field} ${message}`)
    this.field = field
  }
}

/** True for a `PolicyConfigError`, also one from another copy of this package. */
export const isPolicyConfigError = (err: unknown): err is PolicyConfigError => PolicyConfigError.is(err)

const REQUIREMENT_KINDS: readonly RequirementKind[] = ['home-region', 'online']
const CONFIG_KEYS = new Set(['maxStalenessMs', 'maxPendingUpdates', 'homeRegion', 'requiresHomeRegionForWrites', 'capabilities', 'recoveryHoldMs', 'maxClockRateError'])
const CAPABILITY_KEYS = new Set(['name', 'maxStalenessMs', 'maxPendingUpdates', 'maxPendingBytes', 'maxPendingAgeMs', 'requires', 'priority'])

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkKeys(value: Record<string, unknown>, allowed: Set<string>, prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw new PolicyConfigError(`${prefix}${key}`, 'is not a known option (typo?)')
  }
}

/** A finite number >= 0 (durations in ms). */
function checkDuration(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new PolicyConfigError(field, `must be a finite number >= 0 (got ${describe(value)})`)
  }
}

/** A safe integer >= 0 (counts, bytes). */
function checkCount(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PolicyConfigError(field, `must be an integer >= 0 (got ${describe(value)})`)
  }
}

function checkCapability(cap: unknown, index: number, seen: Set<string>): void {
  const at = `capabilities[${index}]`
  if (!isRecord(cap)) throw new PolicyConfigError(at, `must be an object (got ${describe(cap)})`)
  checkKeys(cap, CAPABILITY_KEYS, `${at}.`)
  const { name } = cap
  if (typeof name !== 'string' || name.length === 0) {
    throw new PolicyConfigError(`${at}.name`, `must be a non-empty string (got ${describe(name)})`)
  }
  if (seen.has(name)) throw new PolicyConfigError(`${at}.name`, `duplicates capability ${JSON.stringify(name)}`)
  seen.add(name)
  if (cap['maxStalenessMs'] !== undefined) checkDuration(cap['maxStalenessMs'], `${at}.maxStalenessMs`)
  if (cap['maxPendingUpdates'] !== undefined) checkCount(cap['maxPendingUpdates'], `${at}.maxPendingUpdates`)
  if (cap['maxPendingBytes'] !== undefined) checkCount(cap['maxPendingBytes'], `${at}.maxPendingBytes`)
  if (cap['maxPendingAgeMs'] !== undefined) checkDuration(cap['maxPendingAgeMs'], `${at}.maxPendingAgeMs`)
  const { requires, priority } = cap
  if (requires !== undefined) {
    const list: readonly unknown[] = Array.isArray(requires) ? requires : [requires]
    list.forEach((kind, i) => {
      if (!REQUIREMENT_KINDS.includes(kind as RequirementKind)) {
        const field = Array.isArray(requires) ? `${at}.requires[${i}]` : `${at}.requires`
        throw new PolicyConfigError(field, `must be 'home-region' or 'online' (got ${describe(kind)})`)
      }
    })
  }
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) {
    throw new PolicyConfigError(`${at}.priority`, `must be a finite number (got ${describe(priority)})`)
  }
}

/**
 * Checks a policy config and returns it unchanged (typed). Throws `PolicyConfigError`
 * naming the first offending field: a missing, negative or non-finite bound, a
 * non-integer count, an unknown option, an empty or duplicate capability name, an
 * unknown `requires` value, or `requiresHomeRegionForWrites` without `homeRegion`.
 */
export function validatePolicyConfig(config: unknown): PolicyConfig {
  if (!isRecord(config)) throw new PolicyConfigError('config', `must be an object (got ${describe(config)})`)
  checkKeys(config, CONFIG_KEYS, '')
  checkDuration(config['maxStalenessMs'], 'maxStalenessMs')
  checkCount(config['maxPendingUpdates'], 'maxPendingUpdates')
  checkDuration(config['recoveryHoldMs'], 'recoveryHoldMs')
  const rate = config['maxClockRateError']
  if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate < 0.1))) {
    throw new PolicyConfigError('maxClockRateError', `must be a fraction in [0, 0.1) (got ${describe(rate)})`)
  }
  const { homeRegion, requiresHomeRegionForWrites, capabilities } = config
  if (homeRegion !== undefined && homeRegion !== null && (typeof homeRegion !== 'string' || homeRegion.length === 0)) {
    throw new PolicyConfigError('homeRegion', `must be a non-empty string or null (got ${describe(homeRegion)})`)
  }
  if (requiresHomeRegionForWrites !== undefined && typeof requiresHomeRegionForWrites !== 'boolean') {
    throw new PolicyConfigError('requiresHomeRegionForWrites', `must be a boolean (got ${describe(requiresHomeRegionForWrites)})`)
  }
  if (requiresHomeRegionForWrites === true && (homeRegion === undefined || homeRegion === null)) {
    throw new PolicyConfigError('requiresHomeRegionForWrites', 'is true but homeRegion is not set')
  }
  if (!Array.isArray(capabilities)) {
    throw new PolicyConfigError('capabilities', `must be an array (got ${describe(capabilities)})`)
  }
  const seen = new Set<string>()
  capabilities.forEach((cap, i) => checkCapability(cap, i, seen))
  return config as unknown as PolicyConfig
}

/**
 * Fills what `input` leaves out from `DEFAULT_POLICY_CONFIG`, validates the result
 * and returns a frozen copy (later changes to `input` do not affect it).
 */
export function resolvePolicyConfig(input: Partial<PolicyConfig> = {}): PolicyConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_POLICY_CONFIG }
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) merged[key] = value
  }
  const config = validatePolicyConfig(merged)
  const capabilities = config.capabilities.map((cap): CapabilityRequirement => {
    const copy: CapabilityRequirement = { ...cap }
    if (Array.isArray(cap.requires)) copy.requires = Object.freeze([...(cap.requires as readonly RequirementKind[])])
    return Object.freeze(copy)
  })
  return Object.freeze({ ...config, capabilities: Object.freeze(capabilities) })
}
