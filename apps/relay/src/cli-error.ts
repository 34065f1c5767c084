/** A command line the relay cannot run: printed with the usage text, exit code 2. */
export class CliError extends Error {
  readonly code = 'ERR_CLI_USAGE'
}
