import { defineErrors } from '@meridian/base'

const CLI_ERROR_CODES = { ERR_CLI_USAGE: 'invalid command line' } as const

/** A command line the relay cannot run: printed with the usage text, exit code 2. */
export class CliError extends defineErrors('CliError', CLI_ERROR_CODES) {
  constructor(detail: string) {
    super('ERR_CLI_USAGE', detail)
  }
}
