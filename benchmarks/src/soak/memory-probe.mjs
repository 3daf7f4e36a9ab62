/**
 * Loaded into the application under test with `node --import <this file>` (the soak starts the
 * app as its own process, so the memory it reports is the app's alone). It answers each
 * `{ type: 'soak:probe' }` message on the IPC channel with the process's memory, CPU time and
 * event-loop delay since the previous answer (after a full GC when asked `gc: true` and the app
 * runs with `--expose-gc`); the app's own code is untouched.
 *
 * The channel is unref'd: the probe never keeps the process alive, so the app's shutdown on
 * SIGTERM is the same as without it. When the channel closes (the soak's process ended, even by
 * SIGKILL) the app is sent SIGTERM: it never outlives the run. Without an IPC channel (started
 * some other way) it does nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

if (typeof process.send === 'function') {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  process.on('message', (message) => {
    if (message === null || typeof message !== 'object' || message.type !== 'soak:probe') return
    // `gc: true` (the app started with --expose-gc): a full collection first, so heapUsed is the
    // live heap. Asked before and after the load only; the samples in between are undisturbed.
    const collected = message.gc === true && typeof globalThis.gc === 'function'
    if (collected) globalThis.gc()
    const memory = process.memoryUsage()
    const cpu = process.cpuUsage()
    process.send?.({
      type: 'soak:probe',
      id: message.id,
      at: Date.now(),
      collected,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      // Nanoseconds in the histogram; milliseconds here. Reset: each answer covers one window.
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
    })
    delay.reset()
  })
  // The soak that started this process is gone (killed, crashed): do not outlive it.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'))
  process.channel?.unref()
}
