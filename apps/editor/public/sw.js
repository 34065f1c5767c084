// Meridian editor service worker: lets the page itself load while offline, so an
// offline reload shows the document from IndexedDB. Network first (the page is
// always fresh when the relay is reachable), the cache when the network fails.
// The page fills the cache (see src/offline-shell.ts); this only serves it.
const CACHE = 'meridian-editor-shell-v1'

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('fetch', (event) => {
  const request = event.request
  const scope = new URL(self.registration.scope)
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return
  event.respondWith(
    fetch(request).then(
      (response) => {
        if (response.ok && response.type === 'basic') {
          const copy = response.clone()
          // Pages are stored under the scope URL without the query (?doc=…): one shell for every document.
          const key = request.mode === 'navigate' ? scope.href : request
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)))
        }
        return response
      },
      async (error) => {
        const cache = await caches.open(CACHE)
        const cached = request.mode === 'navigate' ? await cache.match(scope.href) : await cache.match(request)
        if (cached !== undefined) return cached
        throw error
      }
    )
  )
})
