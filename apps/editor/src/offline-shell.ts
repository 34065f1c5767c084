/**
 * Makes the page itself available offline (the document already is, in
 * IndexedDB): registers public/sw.js and caches the page's own files. Only in
 * the built app (not under the Vite dev server, where import.meta.hot exists);
 * resolves true once an offline reload would work.
 */
const CACHE = 'meridian-editor-shell-v1'

export async function enableOfflineShell(): Promise<boolean> {
  if (import.meta.hot !== undefined || !('serviceWorker' in navigator) || typeof caches === 'undefined') return false
  try {
    const base = new URL(import.meta.env.BASE_URL, location.href)
    await navigator.serviceWorker.register(new URL('sw.js', base), { scope: base.pathname })
    await navigator.serviceWorker.ready
    // The first visit was not served through the worker: cache what this page loaded.
    const files = Array.from(document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>('script[src], link[href]'))
      .map((el) => ('src' in el ? el.src : el.href))
      .filter((href) => href.startsWith(base.href))
    const cache = await caches.open(CACHE)
    await Promise.all([cache.add(base.href), ...files.map((href) => cache.add(href))])
    return true
  } catch (error) {
    console.warn('offline shell unavailable:', error)
    return false
  }
}
