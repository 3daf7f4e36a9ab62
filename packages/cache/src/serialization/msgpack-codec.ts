/**
 * Values cross to Redis as msgpack, not JSON: Dates stay Dates, Buffers stay binary, and Maps,
 * Sets and BigInts round-trip. `structuredClone`-like fidelity at a fraction of JSON's size.
 *
 * `moreTypes` enables msgpackr's extension types for Set, RegExp, Error and typed arrays. BigInts
 * use msgpack's int64 encoding where they fit, an extension otherwise.
 *
 * Plain objects and `Map`s are both msgpack maps, so the codec picks one of two layouts per
 * value, named by the first byte:
 *
 * - `0x00` plain: the value holds no `Map` (checked by a walk before packing, the common case:
 *   records, lists, Dates, Sets, Buffers, BigInts). Written with `useRecords: false` and read with
 *   `mapsAsObjects: true`: every map is an object, and decoding costs what a plain `unpack` does.
 * - `0x01` records: anything else (a `Map` anywhere, class instances, errors). Plain objects are
 *   written as msgpackr records and `Map`s as msgpack maps, read with `mapsAsObjects: false`, so
 *   each comes back as what it was. Slower to decode: every record definition travels inline.
 *
 * - `0x02` negative zeros: the value holds a `-0` somewhere. msgpack has no integer `-0` and
 *   msgpackr writes it as the integer `0`, so a `-0` would read back from L2 as `0` while L1
 *   served `-0` (`Object.is` tells them apart; so does `1 / x`). The value is written in the
 *   records layout together with the paths of its negative zeros, which the decoder puts back
 *   (in arrays, plain objects, class instances and `Map` values; see {@link negativeZeroPaths}
 *   for what is not walked). A plain value's `-0` is found by the layout's walk (a number
 *   compared with 0 per leaf); a value in the records layout gets a second walk for them. A `-0`
 *   deeper than the walk's depth limit (200) is not kept.
 *
 * Strings travel as UTF-8, which cannot carry a lone surrogate (`'\ud800'`): msgpackr writes
 * U+FFFD instead, so the value would read back different from L2 than from L1. Such a value is
 * refused with `E_CACHE_SERIALIZATION`. The check costs a native scan of the packed bytes for
 * U+FFFD's encoding (EF BF BD), and a walk of the value only when one is there (a real U+FFFD).
 *
 * No shared `structures` are configured in either layout, so an entry written by one deploy (or
 * one process) is readable by any other without coordination. No msgpackr extension is
 * registered: msgpackr's extension table is process-wide and would change other code's bytes.
 */
import { Packr } from 'msgpackr'
import { CacheError } from '../errors.js'

/** Encodes values to bytes and back. */
export interface Codec {
  encode(value: unknown): Buffer
  decode(bytes: Uint8Array): unknown
}

/**
 * The default codec's extra (internal): decode the value at `bytes[start, end)` in place, as
 * `decode(bytes.subarray(start, end))` would, without the view (an L2 read decodes its payload
 * out of the envelope this way).
 */
export interface RangeCodec extends Codec {
  decodeRange(bytes: Uint8Array, start: number, end: number): unknown
}

/** Whether `codec` decodes in place ({@link RangeCodec}). */
export function decodesRange(codec: Codec): codec is RangeCodec {
  return typeof (codec as Partial<RangeCodec>).decodeRange === 'function'
}

/** First byte of a value in the plain layout (no `Map` inside). */
export const LAYOUT_PLAIN = 0
/** First byte of a value in the records layout. */
export const LAYOUT_RECORDS = 1
/** First byte of a value holding a `-0`: `[value, paths of its negative zeros]`, records layout. */
export const LAYOUT_NEGATIVE_ZEROS = 2

/** Deeper than this, the walk gives up and the value takes the records layout. */
const MAX_DEPTH = 200

const isNegativeZero = (value: unknown): boolean => value === 0 && 1 / value < 0

/**
 * True when `value` may hold a `Map` or anything whose msgpack form the plain layout would not
 * read back as it was; false only for plain data (objects, arrays, primitives, Dates, Sets of
 * plain data, byte arrays, RegExps).
 */
export function needsRecords(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) {
    if (isNegativeZero(value)) walkSawNegativeZero = true
    return false
  }
  if (depth > MAX_DEPTH) return true
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    for (const key in value as Record<string, unknown>) {
      if (key === '__proto__') return true
      if (needsRecords((value as Record<string, unknown>)[key], depth + 1)) return true
    }
    return false
  }
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return true
    for (let i = 0; i < value.length; i++) if (needsRecords(value[i], depth + 1)) return true
    return false
  }
  if (value instanceof Date) return proto !== Date.prototype
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return false
  if (value instanceof Set) {
    if (proto !== Set.prototype) return true
    for (const item of value) if (needsRecords(item, depth + 1)) return true
    return false
  }
  if (value instanceof RegExp) return proto !== RegExp.prototype
  // Map, Error, class instances, anything else: the records layout, exactly as before.
  return true
}

/** Set by {@link needsRecords} when a leaf is `-0` (read right after the walk, reset before it). */
let walkSawNegativeZero = false

/** One step into a container: a property name, an array index, or the index of a Map entry. */
type Step = string | number
/** Property names a path never follows (msgpackr renames `__proto__`; the others reach prototypes). */
const UNSAFE_STEPS = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * The paths of the negative zeros in `value` (`[]` for the value itself), in the containers whose
 * msgpack form reads back with the same shape: arrays (indexes), plain objects and class
 * instances without `toJSON` (own enumerable properties, as msgpackr writes a record), and
 * `Map`s (the index of the entry, for its value). Not walked: a `Set` (its items compare with
 * SameValueZero, so a `-0` item is stored `+0`), a Map's keys (likewise), typed arrays (their
 * bytes keep `-0`), Dates, RegExps, Errors, `Map` subclasses and values with a `toJSON` (msgpackr
 * writes something else for them).
 */
export function negativeZeroPaths(
  value: unknown,
  path: Step[] = [],
  out: Step[][] = [],
  ancestors = new Set<object>(),
): Step[][] {
  if (isNegativeZero(value)) out.push([...path])
  if (typeof value !== 'object' || value === null || path.length > MAX_DEPTH) return out
  // A cycle cannot be packed (the encoder refuses it); an ancestor met again is not walked twice.
  if (ancestors.has(value)) return out
  const proto = Object.getPrototypeOf(value)
  const isArray = Array.isArray(value) && proto === Array.prototype
  const isMap = value instanceof Map && proto === Map.prototype
  if (!isArray && !isMap) {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return out
    if (value instanceof Set || value instanceof Map || value instanceof RegExp || value instanceof Error)
      return out
    if (Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return out
  }
  ancestors.add(value)
  const visit = (item: unknown, step: Step) => {
    path.push(step)
    negativeZeroPaths(item, path, out, ancestors)
    path.pop()
  }
  if (isArray) for (let i = 0; i < (value as unknown[]).length; i++) visit((value as unknown[])[i], i)
  else if (isMap) {
    let i = 0
    for (const item of (value as Map<unknown, unknown>).values()) visit(item, i++)
  } else {
    for (const key of Object.keys(value)) {
      if (!UNSAFE_STEPS.has(key)) visit((value as Record<string, unknown>)[key], key)
    }
  }
  ancestors.delete(value)
  return out
}

/**
 * Put back the negative zeros of {@link negativeZeroPaths} into a decoded value. Every step must
 * be an own property (or an entry) of a decoded container and every target a `+0`, else the bytes
 * are not what this codec wrote: an error (a counted miss), never a write elsewhere.
 */
function restoreNegativeZeros(value: unknown, paths: unknown): unknown {
  if (!Array.isArray(paths)) throw new Error('negative-zero layout without paths')
  const corrupt = (): never => {
    throw new Error('negative-zero path does not match the value')
  }
  const keysOf = new Map<Map<unknown, unknown>, unknown[]>()
  let root = value
  for (const path of paths as unknown[]) {
    if (!Array.isArray(path)) return corrupt()
    if (path.length === 0) {
      if (!Object.is(root, 0)) corrupt()
      root = -0
      continue
    }
    let container: unknown = root
    for (let i = 0; i < path.length; i++) {
      const step = path[i] as unknown
      const last = i === path.length - 1
      if (container instanceof Map) {
        let keys = keysOf.get(container)
        if (keys === undefined) {
          keys = [...container.keys()]
          keysOf.set(container, keys)
        }
        if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step >= keys.length) corrupt()
        const key = keys[step as number]
        if (!last) container = container.get(key)
        else if (Object.is(container.get(key), 0)) container.set(key, -0)
        else corrupt()
        continue
      }
      if (typeof container !== 'object' || container === null) return corrupt()
      if (typeof step !== 'string' && typeof step !== 'number') return corrupt()
      if (UNSAFE_STEPS.has(String(step)) || !Object.hasOwn(container, step)) return corrupt()
      const slot = container as Record<Step, unknown>
      if (!last) container = slot[step]
      else if (Object.is(slot[step], 0)) slot[step] = -0
      else corrupt()
    }
  }
  return root
}

/** U+FFFD in UTF-8: what msgpackr writes for a lone surrogate. */
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd])

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** Whether a string anywhere in `value` (object keys, Map keys and Set items included) has a lone surrogate. */
export function hasLoneSurrogate(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value === 'string') return !isWellFormed(value)
  if (typeof value !== 'object' || value === null || seen.has(value)) return false
  seen.add(value)
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return false
  if (value instanceof Map) {
    for (const [k, v] of value) if (hasLoneSurrogate(k, seen) || hasLoneSurrogate(v, seen)) return true
    return false
  }
  if (value instanceof Set || Array.isArray(value)) {
    for (const item of value) if (hasLoneSurrogate(item, seen)) return true
    return false
  }
  if (value instanceof RegExp) return !isWellFormed(value.source)
  for (const key of Object.keys(value)) {
    if (!isWellFormed(key) || hasLoneSurrogate((value as Record<string, unknown>)[key], seen)) return true
  }
  return false
}

/** The value of a {@link LAYOUT_NEGATIVE_ZEROS} body (`[value, paths]`), its negative zeros put back. */
function withZeros(pair: unknown): unknown {
  if (!Array.isArray(pair) || pair.length !== 2) throw new Error('negative-zero layout is not a pair')
  return restoreNegativeZeros(pair[0], pair[1])
}

/** The default msgpack codec. */
export function msgpackCodec(): Codec {
  return defaultCodec()
}

function defaultCodec(): RangeCodec {
  const plain = new Packr({ moreTypes: true, useRecords: false, mapsAsObjects: true })
  const records = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false })
  const startAt1 = { start: 1 }
  return {
    encode(value) {
      try {
        walkSawNegativeZero = false
        let layout = needsRecords(value) ? LAYOUT_RECORDS : LAYOUT_PLAIN
        // The plain walk saw every leaf; one that stopped at a Map may have missed a -0 after it.
        let zeros: Step[][] | undefined
        if (walkSawNegativeZero || layout === LAYOUT_RECORDS) {
          zeros = negativeZeroPaths(value)
          if (zeros.length > 0) layout = LAYOUT_NEGATIVE_ZEROS
        }
        const body =
          layout === LAYOUT_PLAIN
            ? plain.pack(value)
            : records.pack(layout === LAYOUT_NEGATIVE_ZEROS ? [value, zeros] : value)
        if (body.indexOf(REPLACEMENT) !== -1 && hasLoneSurrogate(value)) {
          throw new CacheError(
            'E_CACHE_SERIALIZATION',
            'Value holds a string with a lone surrogate, which UTF-8 cannot carry (it would read back as U+FFFD)',
          )
        }
        const out = Buffer.allocUnsafe(body.length + 1)
        out[0] = layout
        body.copy(out, 1)
        return out
      } catch (cause) {
        if (cause instanceof CacheError) throw cause
        throw new CacheError('E_CACHE_SERIALIZATION', 'Value cannot be serialized to msgpack', { cause })
      }
    },
    decode(bytes) {
      try {
        if (bytes.length < 2) throw new Error('empty value')
        const layout = bytes[0]
        if (layout === LAYOUT_PLAIN) return plain.unpack(bytes, startAt1)
        if (layout === LAYOUT_RECORDS) return records.unpack(bytes, startAt1)
        if (layout === LAYOUT_NEGATIVE_ZEROS) return withZeros(records.unpack(bytes, startAt1))
        throw new Error(`unknown value layout ${layout}`)
      } catch (cause) {
        throw new CacheError('E_CACHE_DESERIALIZATION', 'Bytes are not a valid msgpack value', { cause })
      }
    },
    decodeRange(bytes, start, end) {
      try {
        if (end - start < 2) throw new Error('empty value')
        const layout = bytes[start]
        if (layout === LAYOUT_PLAIN) return plain.unpack(bytes, { start: start + 1, end })
        if (layout === LAYOUT_RECORDS) return records.unpack(bytes, { start: start + 1, end })
        if (layout === LAYOUT_NEGATIVE_ZEROS)
          return withZeros(records.unpack(bytes, { start: start + 1, end }))
        throw new Error(`unknown value layout ${layout}`)
      } catch (cause) {
        throw new CacheError('E_CACHE_DESERIALIZATION', 'Bytes are not a valid msgpack value', { cause })
      }
    },
  }
}
