import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { isRelayError } from '../errors.js'
import { parseTypes, projectJson } from './doc-json.js'

const stateOf = (edit: (d: Y.Doc) => void): Uint8Array => {
  const d = new Y.Doc()
  edit(d)
  return Y.encodeStateAsUpdate(d)
}

describe('JSON projection of root types', () => {
  it('discovers each root from what is stored; an emptied root is left out', () => {
    const state = stateOf((d) => {
      d.getText('t').insert(0, 'ab')
      d.getArray('a').push(['x', 2])
      d.getMap('m').set('k', [1])
      d.getXmlFragment('x').push([new Y.XmlElement('p')])
      d.getArray('gone').push([1])
      d.getArray('gone').delete(0, 1)
    })
    expect(projectJson(state, new Map())).toEqual({
      types: { t: 'text', a: 'array', m: 'map', x: 'xml' },
      data: { t: 'ab', a: ['x', 2], m: { k: [1] }, x: '<p></p>' }
    })
  })

  it('takes the types given, including roots with nothing stored, and refuses bad ones', () => {
    const state = stateOf((d) => d.getText('t').insert(0, 'ab'))
    expect(projectJson(state, parseTypes('t:text,empty:array'))).toEqual({ types: { t: 'text', empty: 'array' }, data: { t: 'ab', empty: [] } })
    expect(parseTypes('a:b:map')).toEqual(new Map([['a:b', 'map']]))
    for (const bad of ['t', ':text', 't:blob']) {
      let error: unknown = null
      try {
        parseTypes(bad)
      } catch (e) {
        error = e
      }
      expect(isRelayError(error) && error.code === 'ERR_BAD_REQUEST').toBe(true)
    }
  })
})
