import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const repo = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The page is served by the demo server (server/main.ts) at `/`. Workspace
 * packages are bundled from their TypeScript sources, as in apps/demo: the page
 * always shows the SDK as it is in the tree.
 */
export default defineConfig({
  base: '/',
  resolve: {
    alias: [
      { find: /^@meridian\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/index.ts` },
      // Subpath entries from sources too, so one copy of the client is bundled (not src and dist side by side).
      { find: /^@meridian\/([a-z-]+)\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/$2.ts` }
    ]
  },
  build: {
    outDir: 'dist/page',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true
  }
})
