// Types of the two pure-JS decoders the codecs load lazily (neither ships its own).

declare module 'snappyjs' {
  /** Raw (unframed) Snappy. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array
  export function compress(uncompressed: Uint8Array): Uint8Array
}

declare module 'lz4js' {
  /** A whole LZ4 frame. */
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array
}
