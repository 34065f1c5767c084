import 'fake-indexeddb/auto'
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { MeridianProvider, openIdbClientStore } from '@meridian/client'
function rng(seed){let s=seed>>>0;return()=>{s=(s+0x6d2b79f5)>>>0;let t=s;t=Math.imul(t^(t>>>15),t|1);t^=t+Math.imul(t^(t>>>7),t|61);return((t^(t>>>14))>>>0)/4294967296}}
const N = Number(process.argv[2] ?? 100000), per = Number(process.argv[3] ?? 1)
const words = ['lorem','ipsum','dolor','sit','amet','consectetur','adipiscing','elit ']
async function edit(doc){ const r=rng(42); const text=doc.getText('text'); let ops=0
  while(ops<N){ doc.transact(()=>{ for(let i=0;i<per&&ops<N;i++,ops++){ const len=text.length
    if (len > 10 && r() < 0.1) { const at = Math.floor(r()*(len-1)); text.delete(at, 1+Math.floor(r()*Math.min(4,len-at-1))) }
    else { const at = r() < 0.7 ? len : Math.floor(r()*(len+1)); text.insert(at, words[Math.floor(r()*words.length)].slice(0, 1+Math.floor(r()*6))) } } })
    if (ops % 1000 === 0) await new Promise(r=>setImmediate(r)) } }
let t=performance.now()
{ const doc=new Y.Doc(); doc.clientID=1; const p=new IndexeddbPersistence('y',doc); await p.whenSynced; await edit(doc); console.log('yidb write', performance.now()-t); await new Promise(r=>setTimeout(r,10)); await p.destroy() }
t=performance.now()
{ const doc=new Y.Doc(); const p=new IndexeddbPersistence('y',doc); await p.whenSynced; console.log('yidb load', performance.now()-t, doc.getText('text').length); await p.destroy() }
t=performance.now()
{ const store = await openIdbClientStore({dbName:'m'}); const doc=new Y.Doc(); doc.clientID=1; const p=new MeridianProvider({doc, docName:'d', store}); await p.whenLoaded; await edit(doc); await p.whenPersisted(); console.log('mer write', performance.now()-t); await p.destroy(); await store.close() }
t=performance.now()
{ const store = await openIdbClientStore({dbName:'m'}); const doc=new Y.Doc(); const p=new MeridianProvider({doc, docName:'d', store}); await p.whenLoaded; console.log('mer load', performance.now()-t, doc.getText('text').length, p.pendingCount); await p.destroy(); await store.close() }
