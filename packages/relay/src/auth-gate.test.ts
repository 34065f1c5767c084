import { describe, expect, it } from 'vitest'
import { CLOSE_CODES } from '@meridian/protocol'
import { compileGlob } from './glob.js'
import { verdictFor } from './auth-gate.js'
import type { VerifyResult } from './auth.js'

const grants = (...list: [string, 'read' | 'write'][]): VerifyResult => ({
  ok: true,
  claims: { sub: 'u', jti: undefined, iat: undefined, exp: undefined, docs: [] },
  grants: list.map(([pattern, access]) => ({ glob: compileGlob(pattern), access }))
})

describe('verdictFor', () => {
  // [case, verification, expected: access, or [close code, refused reason, close reason]]
  const table: [string, VerifyResult, 'read' | 'write' | [number, string, string]][] = [
    ['a write grant', grants(['doc*', 'write']), 'write'],
    ['a read grant', grants(['doc*', 'read']), 'read'],
    ['no grant for the document', grants(['other', 'write']), [CLOSE_CODES.FORBIDDEN, 'forbidden', 'revoked']],
    ['an invalid token', { ok: false, code: 'ERR_AUTH_INVALID', detail: 'bad signature' }, [CLOSE_CODES.UNAUTHENTICATED, 'invalid_token', 'expired']],
    ['an expired token', { ok: false, code: 'ERR_AUTH_EXPIRED', detail: 'exp' }, [CLOSE_CODES.TOKEN_EXPIRED, 'expired', 'expired']],
    ['a revoked token', { ok: false, code: 'ERR_AUTH_REVOKED', detail: 'jti' }, [CLOSE_CODES.TOKEN_REVOKED, 'revoked', 'revoked']]
  ]
  for (const [name, result, expected] of table) {
    it(name, () => {
      const verdict = verdictFor(result, 'doc-1')
      if (typeof expected === 'string') {
        expect(verdict).toMatchObject({ kind: 'admit', access: expected })
        return
      }
      const [closeCode, refused, closed] = expected
      expect(verdict.kind).toBe('deny')
      if (verdict.kind !== 'deny') return
      expect({ closeCode: verdict.end.closeCode, refused: verdict.end.refused, closed: verdict.closed }).toEqual({ closeCode, refused, closed })
      expect(verdict.end.error.code).toBe(result.ok ? 'ERR_AUTH_FORBIDDEN' : result.code)
    })
  }
})
