// @vitest-environment node
import { renderToString } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { describeDurability, MeridianDocument, useCan, useConnection, useDurability, usePolicy, usePresence, useUnloadGuard } from './index.js'

function Page(): React.ReactNode {
  const { status, loaded } = useConnection()
  const policy = usePolicy()
  const comments = useCan('comments')
  const { all } = useDurability()
  const { peers } = usePresence()
  const guarded = useUnloadGuard()
  return <p>{`${status} ${loaded} ${policy?.mode ?? 'closed'} ${comments} ${describeDurability(all)} ${peers.length} ${guarded}`}</p>
}

describe('server rendering', () => {
  it('renders the closed state and never builds a provider (no IndexedDB, no socket on the server)', () => {
    let built = 0
    const html = renderToString(
      <MeridianDocument
        options={{
          docName: 'ssr',
          url: 'ws://127.0.0.1:1',
          createProvider: () => {
            built++
            throw new Error('must not run on the server')
          }
        }}
      >
        <Page />
      </MeridianDocument>
    )
    expect(built).toBe(0)
    expect(typeof indexedDB).toBe('undefined')
    expect(html).toBe('<p>disconnected false closed false saved on this device 0 false</p>')
  })
})

