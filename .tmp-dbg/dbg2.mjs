import { openRedisBus } from '/work/main/packages/bus-redis/dist/index.js'
import { createServer, connect } from 'node:net'
const server = createServer((c) => { const u = connect(6379, '127.0.0.1'); c.pipe(u); u.pipe(c); c.on('error',()=>u.destroy()); u.on('error',()=>c.destroy()) })
await new Promise(r => server.listen(0, '127.0.0.1', r))
const port = server.address().port
const prefix = 'dbg:' + Math.random() + ':'
const b = openRedisBus({ url: `redis://127.0.0.1:${port}`, nodeId: 'b', keyPrefix: prefix, reconnectMaxDelayMs: 100 })
b.on('error', e => console.log('error', e.message)); b.on('resync', e => console.log('resync', e)); b.on('status', s => console.log('status', s))
await b.whenReady()
console.log('ready resolved')
await b.subscribe('doc', m => console.log('b got', m.origin, m.data))
console.log('subscribed')
await new Promise(r => setTimeout(r, 300))
await b.close(); server.close()
