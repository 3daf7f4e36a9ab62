import { Redis } from 'ioredis'

/** Delete every key of the cache namespaces `namespaces` (keys carry `{namespace}` as hash tag). */
export async function deleteNamespaces(url: string, namespaces: Iterable<string>): Promise<void> {
  const admin = new Redis(url)
  try {
    for (const ns of namespaces) {
      const keys = await admin.keys(`*{${ns}}*`)
      if (keys.length > 0) await admin.del(...keys)
    }
  } finally {
    admin.disconnect()
  }
}

/** A promise with its `resolve` exposed, to hold a loader until the test releases it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
