import { describe, expect, it } from 'vitest'
import { CodedError, defineErrors, isCodedError } from './coded-error.js'

const TABLE = { ERR_A: 'a failed', ERR_B: 'b failed' } as const
const TestError = defineErrors('TestError', TABLE)

describe('defineErrors', () => {
  it.each([
    { detail: undefined, message: 'a failed' },
    { detail: '', message: 'a failed' },
    { detail: 'doc x', message: 'a failed: doc x' }
  ])('message for detail $detail is "$message"', ({ detail, message }) => {
    const err = new TestError('ERR_A', detail)
    expect(err.message).toBe(message)
    expect(err.name).toBe('TestError')
    expect(err.code).toBe('ERR_A')
    expect(err).toBeInstanceOf(CodedError)
    expect(err).toBeInstanceOf(Error)
  })

  it('keeps the cause', () => {
    const cause = new Error('root')
    expect(new TestError('ERR_B', undefined, { cause }).cause).toBe(cause)
  })

  it.each([
    { what: 'an instance', value: new TestError('ERR_A'), codes: [], expected: true },
    { what: 'an instance, its code asked', value: new TestError('ERR_A'), codes: ['ERR_A'], expected: true },
    { what: 'an instance, another code asked', value: new TestError('ERR_A'), codes: ['ERR_B'], expected: false },
    { what: 'a look-alike from another copy', value: Object.assign(new Error('x'), { name: 'TestError', code: 'ERR_B' }), codes: [], expected: true },
    { what: 'a look-alike with a foreign code', value: Object.assign(new Error('x'), { name: 'TestError', code: 'ERR_C' }), codes: [], expected: false },
    { what: 'another family', value: new (defineErrors('OtherError', TABLE))('ERR_A'), codes: [], expected: false },
    { what: 'a plain object', value: { name: 'TestError', code: 'ERR_A' }, codes: [], expected: false },
    { what: 'null', value: null, codes: [], expected: false }
  ] as const)('is($what) → $expected', ({ value, codes, expected }) => {
    expect(TestError.is(value, ...codes)).toBe(expected)
  })

  it('subclasses may add fields and stay members', () => {
    class RichError extends defineErrors('RichError', TABLE) {
      readonly seq: number
      constructor(code: keyof typeof TABLE, seq: number) {
        super(code)
        this.seq = seq
      }
    }
    const err = new RichError('ERR_B', 7)
    expect(err.seq).toBe(7)
    expect(err.message).toBe('b failed')
  })

  it('refuses a code that is not ERR_UPPER_SNAKE', () => {
    expect(() => defineErrors('BadError', { nope: 'x' })).toThrow(TypeError)
  })
})

describe('isCodedError', () => {
  it.each([
    { value: new TestError('ERR_A'), expected: true },
    { value: Object.assign(new Error('x'), { code: 'ERR_ANY' }), expected: true },
    { value: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), expected: false },
    { value: new Error('x'), expected: false },
    { value: 'ERR_A', expected: false }
  ])('$value → $expected', ({ value, expected }) => {
    expect(isCodedError(value)).toBe(expected)
  })
})
