import * as Y from 'yjs'
function rng(seed){let s=seed>>>0;return()=>{s=(s+0x6d2b79f5)>>>0;let t=s;t=Math.imul(t^(t>>>15),t|1);t^=t+Math.imul(t^(t>>>7),t|61);return((t^(t>>>14))>>>0)/4294967296}}
const delRatio = Number(process.argv[2] ?? 0.1)
const r = rng(42)
const t0 = performance.now()
const doc = new Y.Doc(); doc.clientID = 1
const text = doc.getText('text')
const words = ['lorem','ipsum','dolor','sit','amet','consectetur','adipiscing','elit ']
let ops=0
while (ops < 100000) {
  const len = text.length
  if (len > 10 && r() < delRatio) { const at = Math.floor(r()*(len-1)); text.delete(at, 1+Math.floor(r()*Math.min(4,len-at-1))) }
  else { const at = r() < 0.7 ? len : Math.floor(r()*(len+1)); text.insert(at, words[Math.floor(r()*words.length)].slice(0, 1+Math.floor(r()*6))) }
  ops++
}
const t1 = performance.now()
const full = Y.encodeStateAsUpdate(doc)
const sv = Y.encodeStateVector(doc)
const diff = Y.encodeStateAsUpdate(doc, sv)
const t2=performance.now()
const d2 = new Y.Doc(); Y.applyUpdate(d2, full)
const t3=performance.now()
const v2 = Y.encodeStateAsUpdateV2(doc)
const d3 = new Y.Doc(); const t4=performance.now(); Y.applyUpdateV2(d3, v2); const t5=performance.now()
console.log({delRatio, genMs: t1-t0, full: full.length, dsOnly: diff.length, textLen: text.length, encodeMs: t2-t1, applyMs: t3-t2, v2: v2.length, applyV2Ms: t5-t4})
