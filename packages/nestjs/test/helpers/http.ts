import type { INestApplication } from '@nestjs/common'

/** `http://127.0.0.1:<port>` of an application started with `app.listen(0, '127.0.0.1')`. */
export function baseUrl(app: INestApplication): string {
  const address = app.getHttpServer().address() as { port: number } | string | null
  if (address === null || typeof address === 'string')
    throw new Error('the application is not listening on TCP')
  return `http://127.0.0.1:${address.port}`
}

/**
 * Poll `check` until it returns true or `timeoutMs` passes (then throw `message`). The default is
 * generous: on the shared 2-core test machine a JVM engine (OpenSearch, Elasticsearch, Kafka)
 * was seen to stall a single request for over 10 s.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 45_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
