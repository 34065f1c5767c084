// Lint rules chosen for what review found in this tree: floating promises, unused (private)
// members, duplicate imports, non-exhaustive switches over unions. Type-aware rules run on the
// shipped sources (each package's tsconfig); tests get the syntactic rules only.
import tseslint from 'typescript-eslint'

const shared = {
  'no-duplicate-imports': ['error', { allowSeparateTypeImports: true }],
  '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
  '@typescript-eslint/no-unused-private-class-members': 'error',
  '@typescript-eslint/no-explicit-any': 'error',
  'no-console': 'off'
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', 'test-results/**', 'bench-results/**', 'data/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.base],
    rules: shared
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/src/**/*.tsx', 'apps/*/src/**/*.ts', 'apps/*/src/**/*.tsx'],
    // Test support that the package builds leave out (no tsconfig covers them): syntactic rules only.
    ignores: ['**/*.test.ts', '**/*.test.tsx', '**/*.test-helper.ts', '**/test-support/**', 'packages/client/src/store/store-conformance.ts', 'packages/client/src/store/editing-session.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }]
    }
  }
)
