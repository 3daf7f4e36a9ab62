/**
 * Values cross to Redis as msgpack, not JSON: Dates stay Dates, Buffers stay binary, and Maps,
 * Sets and BigInts round-trip. `structuredClone`-like fidelity at a fraction of JSON's size.
 *
 * `moreTypes` enables msgpackr's extension types for Set, RegExp, Error and typed arrays.
 * Plain objects are written as msgpackr records and `Map`s as msgpack maps, so with
 * `mapsAsObjects: false` each comes back as what it was. No shared `structures` are configured:
 * every record definition travels inline in the bytes, so an entry written by one deploy (or
 * one process) is readable by any other without coordination. BigInts use msgpack's int64
 * encoding where they fit, an extension otherwise.
 */
import { Packr } from 'msgpackr'
import { CacheError } from '../errors.js'

/** Encodes values to bytes and back. */
export interface Codec {
  encode(value: unknown): Buffer
  decode(bytes: Uint8Array): unknown
}

/** The default msgpack codec. */
export function msgpackCodec(): Codec {
  const packr = new Packr({
    moreTypes: true,
    useRecords: true,
    mapsAsObjects: false,
  })
  return {
    encode(value) {
      try {
        return packr.pack(value)
      } catch (cause) {
        throw new CacheError('E_CACHE_SERIALIZATION', 'Value cannot be serialized to msgpack', { cause })
      }
    },
    decode(bytes) {
      try {
        return packr.unpack(bytes)
      } catch (cause) {
        throw new CacheError('E_CACHE_DESERIALIZATION', 'Bytes are not a valid msgpack value', { cause })
      }
    },
  }
}
