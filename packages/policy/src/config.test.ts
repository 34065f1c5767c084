import { describe, expect, it } from 'vitest'
import { PolicyConfigError, isPolicyConfigError, resolvePolicyConfig, validatePolicyConfig } from './config.js'
import { DEFAULT_POLICY_CONFIG } from './types.js'

const valid = {
  maxStalenessMs: 30_000,
  maxPendingUpdates: 100,
  homeRegion: 'eu',
  requiresHomeRegionForWrites: true,
  recoveryHoldMs: 5_000,
  capabilities: [
    { name: 'comments', maxStalenessMs: 30_000 },
    { name: 'checkout', requires: 'home-region', maxStalenessMs: 2_000, priority: 10 },
    { name: 'upload', maxPendingUpdates: 500, maxPendingBytes: 1_000_000, maxPendingAgeMs: 60_000, requires: ['online'] }
  ]
}

function fieldOf(config: unknown): string {
  try {
    validatePolicyConfig(config)
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyConfigError)
    expect(isPolicyConfigError(err)).toBe(true)
    const e = err as PolicyConfigError
    expect(e.code).toBe('ERR_POLICY_CONFIG')
    expect(e.message).toContain(e.field)
    return e.field
  }
  throw new Error('expected a PolicyConfigError')
}

describe('validatePolicyConfig', () => {
  it('accepts a valid config and the defaults', () => {
    expect(validatePolicyConfig(valid)).toBe(valid)
    expect(() => validatePolicyConfig(DEFAULT_POLICY_CONFIG)).not.toThrow()
  })

  it('names the field of a negative, non-finite or missing bound', () => {
    expect(fieldOf({ ...valid, maxStalenessMs: -1 })).toBe('maxStalenessMs')
    expect(fieldOf({ ...valid, maxStalenessMs: Number.POSITIVE_INFINITY })).toBe('maxStalenessMs')
    expect(fieldOf({ ...valid, maxPendingUpdates: Number.NaN })).toBe('maxPendingUpdates')
    expect(fieldOf({ ...valid, maxPendingUpdates: 2.5 })).toBe('maxPendingUpdates')
    expect(fieldOf({ ...valid, recoveryHoldMs: '5s' })).toBe('recoveryHoldMs')
    const { recoveryHoldMs: _, ...missing } = valid
    expect(fieldOf(missing)).toBe('recoveryHoldMs')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', maxStalenessMs: -5 }] })).toBe('capabilities[0].maxStalenessMs')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a' }, { name: 'b', maxPendingBytes: -1 }] })).toBe('capabilities[1].maxPendingBytes')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', maxPendingAgeMs: Number.NaN }] })).toBe('capabilities[0].maxPendingAgeMs')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', priority: Number.NaN }] })).toBe('capabilities[0].priority')
  })

  it('rejects duplicate and empty capability names', () => {
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a' }, { name: 'a' }] })).toBe('capabilities[1].name')
    expect(fieldOf({ ...valid, capabilities: [{ name: '' }] })).toBe('capabilities[0].name')
    expect(fieldOf({ ...valid, capabilities: [{}] })).toBe('capabilities[0].name')
  })

  it('rejects unknown requires values', () => {
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', requires: 'home' }] })).toBe('capabilities[0].requires')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', requires: ['online', 'quorum'] }] })).toBe('capabilities[0].requires[1]')
  })

  it('rejects unknown options (typos) and wrong shapes', () => {
    expect(fieldOf({ ...valid, maxStalenesMs: 1 })).toBe('maxStalenesMs')
    expect(fieldOf({ ...valid, capabilities: [{ name: 'a', maxStalenessMS: 1 }] })).toBe('capabilities[0].maxStalenessMS')
    expect(fieldOf({ ...valid, capabilities: {} })).toBe('capabilities')
    expect(fieldOf({ ...valid, capabilities: ['a'] })).toBe('capabilities[0]')
    expect(fieldOf(null)).toBe('config')
    expect(fieldOf({ ...valid, homeRegion: '' })).toBe('homeRegion')
    expect(fieldOf({ ...valid, requiresHomeRegionForWrites: 'yes' })).toBe('requiresHomeRegionForWrites')
  })

  it('requires a home region when writes need it', () => {
    expect(fieldOf({ ...valid, homeRegion: null })).toBe('requiresHomeRegionForWrites')
    expect(() => validatePolicyConfig({ ...valid, homeRegion: null, requiresHomeRegionForWrites: false })).not.toThrow()
  })
})

describe('resolvePolicyConfig', () => {
  it('fills defaults, validates, and returns a frozen copy', () => {
    const input = { capabilities: [{ name: 'comments', maxStalenessMs: 30_000 }] }
    const config = resolvePolicyConfig(input)
    expect(config).toMatchObject({ maxStalenessMs: 30_000, maxPendingUpdates: 1_000, recoveryHoldMs: 5_000, homeRegion: null })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.capabilities[0])).toBe(true)
    input.capabilities[0]!.maxStalenessMs = 1
    expect(config.capabilities[0]?.maxStalenessMs).toBe(30_000)
    expect(() => resolvePolicyConfig({ recoveryHoldMs: -1 })).toThrow(PolicyConfigError)
  })
})
