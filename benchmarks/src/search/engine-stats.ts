/**
 * What the search benchmark reads from the engine besides its answers: the nodes' JVM heap, an
 * index's store size, and the peaks of the engine heap and the Node heap while a load runs
 * (sampled every second, with the load's Node CPU time).
 */
import type { SearchClient } from '@ayala/search'

export interface JvmHeap {
  usedMb: number
  maxMb: number
}

export async function engineHeap(search: SearchClient): Promise<JvmHeap> {
  const raw = await search.raw()
  const stats = (await raw.transport.request({ method: 'GET', path: '/_nodes/stats/jvm' })) as {
    nodes: Record<string, { jvm: { mem: { heap_used_in_bytes: number; heap_max_in_bytes: number } } }>
  }
  const nodes = Object.values(stats.nodes)
  return {
    usedMb: nodes.reduce((sum, n) => sum + n.jvm.mem.heap_used_in_bytes, 0) / 1_048_576,
    maxMb: nodes.reduce((sum, n) => sum + n.jvm.mem.heap_max_in_bytes, 0) / 1_048_576,
  }
}

export async function storeMb(search: SearchClient, index: string): Promise<number> {
  const raw = await search.raw()
  const store = await raw.indices.stats({ index, metric: 'store' })
  return (store._all.primaries?.store?.size_in_bytes ?? 0) / 1_048_576
}

/** Peak engine heap and Node heap while `work` runs, sampled every second. */
export async function sampled<T>(
  search: SearchClient,
  work: () => Promise<T>,
): Promise<{ value: T; ms: number; enginePeakMb: number; nodePeakMb: number; nodeCpuS: number }> {
  let enginePeakMb = 0
  let nodePeakMb = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      nodePeakMb = Math.max(nodePeakMb, process.memoryUsage().heapUsed / 1_048_576)
      enginePeakMb = Math.max(enginePeakMb, (await engineHeap(search)).usedMb)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
  })()
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  try {
    const value = await work()
    const cpu = process.cpuUsage(cpu0)
    // Node CPU of the load (user + system), the sampler's few calls included for both contenders.
    const nodeCpuS = (cpu.user + cpu.system) / 1e6
    return { value, ms: performance.now() - t0, enginePeakMb, nodePeakMb, nodeCpuS }
  } finally {
    sampling = false
    await sampler
  }
}

/** What {@link sampled} measured of one load. */
export type SampledLoad = Awaited<ReturnType<typeof sampled<void>>>
