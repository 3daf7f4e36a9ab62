/**
 * L1 byte accounting. With Redis, an entry's size is the length of its encoded envelope (already
 * computed for the write). Without Redis nothing is encoded, so the size is estimated by a bounded
 * walk of the value (at most {@link MAX_NODES} nodes: large values are estimated from a sample),
 * close enough to keep `l1MaxBytes` meaningful at a fraction of the cost of encoding.
 */

const MAX_NODES = 2_000

/** Estimated heap bytes of `value`. */
export function estimateSize(value: unknown): number {
  let nodes = 0
  const walk = (v: unknown, depth: number): number => {
    if (++nodes > MAX_NODES || depth > 32) return 8
    switch (typeof v) {
      case 'string':
        return 16 + v.length * 2
      case 'number':
      case 'boolean':
      case 'undefined':
        return 8
      case 'bigint':
        return 16
      case 'object': {
        if (v === null) return 8
        if (v instanceof Date) return 24
        if (ArrayBuffer.isView(v)) return 32 + v.byteLength
        let size = 32
        if (v instanceof Map) {
          for (const [k, item] of v) size += walk(k, depth + 1) + walk(item, depth + 1)
        } else if (v instanceof Set || Array.isArray(v)) {
          for (const item of v as Iterable<unknown>) size += 8 + walk(item, depth + 1)
        } else {
          for (const k in v) size += 8 + k.length * 2 + walk((v as Record<string, unknown>)[k], depth + 1)
        }
        return size
      }
      default:
        return 8
    }
  }
  return walk(value, 0)
}

/** Deep-freeze a value in place (the `l1Values: 'freeze'` option). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value)
    if (value instanceof Map) {
      for (const [k, v] of value) {
        deepFreeze(k)
        deepFreeze(v)
      }
    } else if (value instanceof Set) {
      for (const v of value) deepFreeze(v)
    } else {
      for (const k of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[k])
    }
  }
  return value
}
