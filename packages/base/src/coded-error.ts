/**
 * One way to define coded errors in every Meridian package (after fastify's
 * `lib/errors.js`): a package writes one table `code → message`, and
 * `defineErrors` gives it an error class whose `code` is typed by that table
 * and one guard. Callers branch on `code`, never on `message`; codes are part
 * of the public contract, messages are for humans and may change.
 */

export interface CodedErrorOptions {
  readonly cause?: unknown
}

/** The base of every Meridian error: an `Error` with a stable `code`. */
export class CodedError<C extends string = string> extends Error {
  readonly code: C

  constructor(name: string, code: C, message: string, options?: CodedErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = name
    this.code = code
  }
}

/** A table of codes and their default messages; codes are `ERR_` + upper snake case. */
export type ErrorTable = Readonly<Record<string, string>>

/** The class `defineErrors` returns: constructible, with its table and guard as statics. */
export interface CodedErrorClass<T extends ErrorTable> {
  new (code: keyof T & string, detail?: string, options?: CodedErrorOptions): CodedError<keyof T & string>
  /** The family's name, also the `name` of every instance. */
  readonly familyName: string
  readonly messages: T
  /**
   * True for an error of this family (optionally with one of `codes`). Also
   * accepts a look-alike from another copy of the package (sources in tests,
   * dist in an app), where `instanceof` fails: same name, a code of the table.
   */
  is(value: unknown, ...codes: ReadonlyArray<keyof T & string>): value is CodedError<keyof T & string>
}

const CODE_SHAPE = /^ERR_[A-Z0-9_]+$/

/**
 * Defines an error family. The message of an instance is the table's text,
 * followed by `: detail` when a detail is given.
 */
export function defineErrors<const T extends ErrorTable>(familyName: string, messages: T): CodedErrorClass<T> {
  for (const code of Object.keys(messages)) {
    if (!CODE_SHAPE.test(code)) throw new TypeError(`defineErrors(${familyName}): "${code}" is not an ERR_UPPER_SNAKE code`)
  }
  type Code = keyof T & string
  const isCode = (value: unknown): value is Code => typeof value === 'string' && Object.hasOwn(messages, value)

  class FamilyError extends CodedError<Code> {
    static readonly familyName = familyName
    static readonly messages = messages

    constructor(code: Code, detail?: string, options?: CodedErrorOptions) {
      const text = (isCode(code) ? messages[code] : undefined) ?? 'unknown error code'
      super(familyName, code, detail === undefined || detail === '' ? text : `${text}: ${detail}`, options)
    }

    static is(value: unknown, ...codes: readonly Code[]): value is CodedError<Code> {
      const member =
        value instanceof FamilyError ||
        (value instanceof Error && value.name === familyName && isCode((value as { code?: unknown }).code))
      return member && (codes.length === 0 || codes.includes((value as CodedError<Code>).code))
    }
  }
  return FamilyError
}

/** True for any Meridian coded error (or a look-alike from another copy: an Error with an `ERR_` code). */
export function isCodedError(value: unknown): value is CodedError {
  if (value instanceof CodedError) return true
  const code: unknown = value instanceof Error ? (value as { code?: unknown }).code : undefined
  return typeof code === 'string' && CODE_SHAPE.test(code)
}
