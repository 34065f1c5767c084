import { openRedisBus } from '/work/main/packages/bus-redis/dist/index.js'
import { Redis } from 'ioredis'
const prefix = 'dbg:' + Math.random() + ':'
const a = openRedisBus({ url: 'redis://127.0.0.1:6379', nodeId: 'a', keyPrefix: prefix })
const b = openRedisBus({ url: 'redis://127.0.0.1:6379', nodeId: 'b', keyPrefix: prefix, reconnectMaxDelayMs: 100 })
for (const [n, bus] of [['a', a], ['b', b]]) { bus.on('error', e => console.log(n, 'error', e.message)); bus.on('resync', e => console.log(n, 'resync', e)); bus.on('status', s => console.log(n, 'status', s)) }
await a.whenReady(); await b.whenReady()
await b.subscribe('doc', m => console.log('b got', m.origin, m.data))
await new Promise(r => setTimeout(r, 200))
const redis = new Redis()
const list = String(await redis.client('LIST'))
const id = /id=(\d+) .*name=meridian-bus:b:read/.exec(list)?.[1]
console.log('killing', id)
await redis.client('KILL', 'ID', id)
await new Promise(r => setTimeout(r, 1000))
await a.publish('doc', { kind: 'update', data: new Uint8Array([5]) })
await new Promise(r => setTimeout(r, 1000))
console.log(String(await redis.client('LIST')).split('\n').filter(l => l.includes('meridian-bus')).map(l => l.replace(/ (fd|age|idle|flags|db|sub|psub|ssub|multi|qbuf|qbuf-free|argv-mem|multi-mem|rbs|rbp|obl|oll|omem|tot-mem|events|user|redir|resp|laddr)=\S*/g,'')).join('\n'))
await a.close(); await b.close(); redis.disconnect()
