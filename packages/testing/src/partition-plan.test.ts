import { describe, expect, it } from 'vitest'
import type { FaultProxy, PartitionDirection } from './fault-proxy.js'
import { healAll, healPair, isolate, partitionPair } from './partition-plan.js'
import { until, startTarget, startProxy, dialAs } from './fault-proxy.test-helper.js'

describe('partition plan', () => {
  it('maps full and one-way partitions onto the two proxies', () => {
    const calls: string[] = []
    const fake = (node: string): FaultProxy =>
      ({
        partition: (peer: string, direction: PartitionDirection = 'both') => calls.push(`${node}.partition(${peer},${direction})`),
        heal: (peer?: string) => calls.push(`${node}.heal(${peer ?? ''})`)
      }) as unknown as FaultProxy
    const proxies = new Map([['A', fake('A')], ['B', fake('B')], ['C', fake('C')]])

    partitionPair(proxies, 'A', 'B')
    expect(calls.splice(0)).toEqual(['B.partition(A,both)', 'A.partition(B,both)'])
    partitionPair(proxies, 'A', 'B', { oneWay: true })
    expect(calls.splice(0)).toEqual(['B.partition(A,from-target)', 'A.partition(B,to-target)'])
    healPair(proxies, 'A', 'B')
    expect(calls.splice(0)).toEqual(['B.heal(A)', 'A.heal(B)'])
    isolate(proxies, 'C')
    expect(calls.splice(0)).toEqual(['A.partition(C,both)', 'C.partition(A,both)', 'B.partition(C,both)', 'C.partition(B,both)'])
    healAll(proxies)
    expect(calls.splice(0)).toEqual(['A.heal()', 'B.heal()', 'C.heal()'])
    expect(() => partitionPair(proxies, 'A', 'Z')).toThrow(/no fault proxy for node Z/)
  })

  it("one-way: A's bytes reach B but B's do not reach A, on links dialed by either side", async () => {
    const relayA = await startTarget('sink')
    const relayB = await startTarget('sink')
    const proxies = new Map([
      ['A', await startProxy(relayA)],
      ['B', await startProxy(relayB)]
    ])
    // A dials B (through B's proxy) and B dials A (through A's proxy).
    const aDialsB = await dialAs(proxies.get('B')!, relayB, 'A') // client side = A, server side = B
    const bDialsA = await dialAs(proxies.get('A')!, relayA, 'B') // client side = B, server side = A

    partitionPair(proxies, 'A', 'B', { oneWay: true })
    aDialsB.client.socket.write('A>B') // A -> B: flows
    aDialsB.server.socket.write('B>A') // B -> A: dropped
    bDialsA.client.socket.write('B>A') // B -> A: dropped
    bDialsA.server.socket.write('A>B') // A -> B: flows
    await aDialsB.server.waitForText(aDialsB.head + 'A>B')
    await bDialsA.client.waitForText('A>B')
    await until(() => proxies.get('A')!.stats.droppedBytes === 3 && proxies.get('B')!.stats.droppedBytes === 3, 'B -> A bytes dropped on both links')
    expect(aDialsB.client.text).toBe('')
    expect(bDialsA.server.text).toBe(bDialsA.head)

    healPair(proxies, 'A', 'B')
    partitionPair(proxies, 'A', 'B')
    aDialsB.client.socket.write('1')
    aDialsB.server.socket.write('2')
    bDialsA.client.socket.write('3')
    bDialsA.server.socket.write('4')
    await until(() => proxies.get('A')!.stats.droppedBytes === 5 && proxies.get('B')!.stats.droppedBytes === 5, 'everything dropped')

    healAll(proxies)
    aDialsB.server.socket.write('B>A again')
    bDialsA.client.socket.write('B>A again')
    await aDialsB.client.waitForText('B>A again')
    await bDialsA.server.waitForText(bDialsA.head + 'B>A again')
  })
})
