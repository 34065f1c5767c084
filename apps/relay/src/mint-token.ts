/**
 * `meridian-relay mint-token`: prints a token the relay accepts, for local use
 * and tests. Production tokens come from your own auth service (same claims:
 * see the README, "Operating a relay").
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { mintToken, type Access } from '@meridian/relay'

export const MINT_USAGE = `Usage: meridian-relay mint-token [options]

  --secret <s>         HS256 shared secret, as given to the relay (MERIDIAN_JWT_SECRET)
  --secret-file <f>    read the secret from a file (MERIDIAN_JWT_SECRET_FILE)
  --private-key <f>    or sign with an Ed25519 (EdDSA) / P-256 (ES256) private key, PEM or JWK
  --kid <id>           key id header (to pick among several public keys on the relay)
  --doc <pattern>      document-name pattern (* within a segment, ** across); repeatable, required
  --access read|write  access for every --doc (default write)
  --ttl <seconds>      lifetime (default 3600)
  --sub <id>           subject (user id), used by revocation by sub
  --issuer <iss>       iss claim
  --audience <aud>     aud claim
  --help               print this and exit

Prints the token (a JWT) and a newline. Clients pass it as ?token=<jwt>.
`

/** Runs the subcommand; returns the process exit code. */
export async function mintTokenCommand(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        secret: { type: 'string' },
        'secret-file': { type: 'string' },
        'private-key': { type: 'string' },
        kid: { type: 'string' },
        doc: { type: 'string', multiple: true },
        access: { type: 'string' },
        ttl: { type: 'string' },
        sub: { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        help: { type: 'boolean' }
      }
    }))
  } catch (e) {
    err(`meridian-relay mint-token: ${(e as Error).message}\n\n${MINT_USAGE}`)
    return 2
  }
  if (values.help === true) {
    out(MINT_USAGE)
    return 0
  }
  const usage = (message: string): number => {
    err(`meridian-relay mint-token: ${message}\n\n${MINT_USAGE}`)
    return 2
  }
  const access = values.access ?? 'write'
  if (access !== 'read' && access !== 'write') return usage(`--access must be read or write, got "${access}"`)
  const docs = values.doc ?? []
  if (docs.length === 0) return usage('give at least one --doc pattern')
  const ttlText = values.ttl ?? '3600'
  if (!/^\d+$/.test(ttlText) || Number(ttlText) <= 0) return usage(`--ttl must be a positive number of seconds, got "${ttlText}"`)
  // The environment supplies a secret only when no key was given on the command line.
  const keyGiven = values.secret !== undefined || values['secret-file'] !== undefined || values['private-key'] !== undefined
  let secret = values.secret ?? (keyGiven ? undefined : env.MERIDIAN_JWT_SECRET)
  const secretFile = values['secret-file'] ?? (keyGiven ? undefined : env.MERIDIAN_JWT_SECRET_FILE)
  let privateKey: string | undefined
  try {
    if (secret === undefined && secretFile !== undefined) secret = readFileSync(secretFile, 'utf8').trim()
    if (values['private-key'] !== undefined) privateKey = readFileSync(values['private-key'], 'utf8')
  } catch (e) {
    return usage((e as Error).message)
  }
  if ((secret === undefined) === (privateKey === undefined)) return usage('give exactly one of --secret/--secret-file and --private-key')
  try {
    const token = await mintToken({
      ...(privateKey !== undefined ? { privateKey } : { secret: secret as string }),
      docs: docs.map((pattern) => ({ pattern, access: access as Access })),
      ttlSeconds: Number(ttlText),
      ...(values.kid !== undefined ? { kid: values.kid } : {}),
      ...(values.sub !== undefined ? { sub: values.sub } : {}),
      ...(values.issuer !== undefined ? { issuer: values.issuer } : {}),
      ...(values.audience !== undefined ? { audience: values.audience } : {})
    })
    out(`${token}\n`)
    return 0
  } catch (e) {
    return usage((e as Error).message)
  }
}
