/**
 * A call's deadline: a timer that rejects with {@link DEADLINE}, raced against the work; when the
 * deadline wins, the request is aborted (the signal handed to the transport). The race is needed
 * as well as the signal, because the transport's retry backoff does not listen to the signal. The
 * request that lost the race settles later; nobody waits for it ({@link dropLateOutcome}).
 */

/** Sentinel rejection of a read's deadline (never leaves the client). */
export const DEADLINE = Symbol('deadline')

/** A request that outlived its read's deadline settles later; its outcome was already reported. */
export function dropLateOutcome(): void {
  // The read rejected at its deadline and aborted the request; what the aborted request does
  // afterwards (an abort error, or an answer nobody waits for) changes nothing.
}
