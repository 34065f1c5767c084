import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app.js'
import { readConfig } from './config.js'
import { enableOfflineShell } from './offline-shell.js'
import './style.css'

/**
 * The Meridian editor demo: Tiptap on a Y.Doc kept in IndexedDB and synced by
 * the SDK, through @meridian/react. Settings come from the URL (see config.ts).
 */
const root = document.getElementById('root')
if (root === null) throw new Error('#root missing')
let storage: Storage | null = null
try {
  storage = window.localStorage
} catch {
  // Storage blocked (privacy settings): a new random name per visit is fine.
}
createRoot(root).render(
  <StrictMode>
    <App config={readConfig(location, storage)} />
  </StrictMode>
)
// The page loads offline too once its files are cached; tests wait for this flag before going offline.
void enableOfflineShell().then((ready) => {
  ;(window as unknown as { __editorOfflineReady?: boolean }).__editorOfflineReady = ready
})
