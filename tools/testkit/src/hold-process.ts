/**
 * Hold this process for `ms` milliseconds: a busy loop on the calling thread, so the event loop
 * runs nothing meanwhile (no timer fires, no socket is read, no callback runs). It stands in for
 * a long synchronous task, a GC pause or a host whose cores are all busy, in tests of deadlines
 * whose replies arrive in time but sit unread in the socket while the process is held.
 *
 * @param ms - how long to hold, milliseconds (`performance.now()` clock)
 */
export function holdProcess(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // held: no I/O, no timer
  }
}
