import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const repo = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The editor is served by the relay under /editor/ (`--serve-editor`), hence
 * `base`. Workspace packages are bundled from their TypeScript sources, as in
 * the todo demo. JSX is compiled by Vite's own transformer (automatic
 * runtime): no React plugin needed for a production build.
 */
export default defineConfig({
  base: '/editor/',
  resolve: {
    alias: [
      { find: /^@meridian\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/index.ts` },
      // Subpath entries from sources too, so one copy of the client is bundled (not src and dist side by side).
      { find: /^@meridian\/([a-z-]+)\/([a-z-]+)$/, replacement: `${repo}packages/$1/src/$2.ts` }
    ],
    // One copy of each, whatever the workspace layout: two Yjs or two Reacts break at runtime.
    dedupe: ['yjs', 'y-protocols', 'react', 'react-dom', 'lib0']
  },
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true
  }
})
