import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const repo = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The demo is served by the relay under /demo/ (`--serve-demo`), hence `base`.
 * Workspace packages are bundled from their TypeScript sources, like the tests
 * use them: the demo always shows the SDK as it is in the tree, with no
 * separate build of the packages first.
 */
export default defineConfig({
  base: '/demo/',
  resolve: {
    alias: [
      { find: /^@meridian\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/index.ts` },
      // Subpath entries from sources too, so one copy of the client is bundled (not src and dist side by side).
      { find: /^@meridian\/([a-z-]+)\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/$2.ts` }
    ]
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true
  }
})
