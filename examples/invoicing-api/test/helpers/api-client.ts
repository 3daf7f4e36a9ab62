/**
 * A small JSON client of the invoicing API for the integration tests, and `until`, which polls a
 * read until it satisfies a condition (the copies catch up asynchronously: the outbox relay, the
 * search refresh, the aggregator).
 */

/** A JSON answer. */
export interface Answer<T> {
  status: number
  body: T
  headers: Headers
}

/** Requests to one instance. */
export interface ApiClient {
  get<T = unknown>(path: string): Promise<Answer<T>>
  post<T = unknown>(path: string, body: unknown): Promise<Answer<T>>
  patch<T = unknown>(path: string, body: unknown): Promise<Answer<T>>
  delete<T = unknown>(path: string): Promise<Answer<T>>
}

/** A client of the API at `url`. */
export function apiClient(url: string): ApiClient {
  const send = async <T>(method: string, path: string, body?: unknown): Promise<Answer<T>> => {
    const response = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    })
    const text = await response.text()
    return {
      status: response.status,
      body: (text === '' ? null : JSON.parse(text)) as T,
      headers: response.headers,
    }
  }
  return {
    get: (path) => send('GET', path),
    post: (path, body) => send('POST', path, body),
    patch: (path, body) => send('PATCH', path, body),
    delete: (path) => send('DELETE', path),
  }
}

/** Poll `read` until `done(value)` or `timeoutMs`; returns the last value read. */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await read()
  }
  return value
}
