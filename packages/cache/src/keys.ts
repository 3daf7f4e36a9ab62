/**
 * Redis key layout. Every key of a namespace shares the hash tag `{ns}`, so one MGET can read
 * entries together with their tags' version keys and the generation, on a single Redis and on
 * Redis Cluster alike. The trade-off: a namespace lives in one hash slot, i.e. on
 * one shard of a cluster; spread load across shards with several namespaces.
 *
 * ```
 * <prefix>{<ns>}:e:<key>       entry (msgpack envelope)
 * <prefix>{<ns>}:t:<tag>       tag version (integer, never expires)
 * <prefix>{<ns>}:g             namespace generation (bumped by clear(); an implicit tag of every entry)
 * <prefix>{<ns>}:l:<key>       stampede lease
 * <prefix>{<ns>}:bus           pub/sub channel
 * ```
 *
 * Keys and tags may hold any UTF-16 string. A well-formed string is used as is (Redis keys are
 * binary-safe); one with a lone surrogate (which UTF-8 cannot encode without loss) is written as
 * hex under a different marker (`E:` / `T:`), so two distinct strings never share a Redis key.
 */

const HEX = (s: string): string => {
  let out = ''
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0')
  return out
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** The part after the namespace base of an entry key. */
export function entrySuffix(key: string): string {
  return isWellFormed(key) ? `e:${key}` : `E:${HEX(key)}`
}

/** The part after the namespace base of a tag version key; also the tag's identity inside the cache. */
export function tagSuffix(tag: string): string {
  return isWellFormed(tag) ? `t:${tag}` : `T:${HEX(tag)}`
}

/** The suffix of the namespace generation key (bumped by `clear()`). */
export const GENERATION_SUFFIX = 'g'

/** The tag list of an entry without tags: the generation only (an implicit tag of every entry). */
export const GENERATION_ONLY: readonly string[] = Object.freeze([GENERATION_SUFFIX])

/** Key names of one namespace. */
export class KeySpace {
  /** `<prefix>{<ns>}:` */
  readonly base: string
  readonly channel: string
  readonly generation: string

  constructor(prefix: string, namespace: string) {
    // The prefix is the user's, once; the namespace is never repeated inside it.
    this.base = `${prefix}{${namespace}}:`
    this.channel = `${this.base}bus`
    this.generation = this.base + GENERATION_SUFFIX
  }

  entry(key: string): string {
    return this.base + entrySuffix(key)
  }

  lease(key: string): string {
    return `${this.base}l:${entrySuffix(key)}`
  }

  tag(suffix: string): string {
    return this.base + suffix
  }
}
