import type { INestApplication } from '@nestjs/common'

/** `http://127.0.0.1:<port>` of an application started with `app.listen(0, '127.0.0.1')`. */
export function baseUrl(app: INestApplication): string {
  const address = app.getHttpServer().address() as { port: number } | string | null
  if (address === null || typeof address === 'string')
    throw new Error('the application is not listening on TCP')
  return `http://127.0.0.1:${address.port}`
}

/** Poll `check` until it returns true or `timeoutMs` passes (then throw `message`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
