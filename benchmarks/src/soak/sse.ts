/**
 * One SSE subscriber kept on the app's `/dashboard/stream` for the whole run: it counts the events
 * and keeps the last one with figures, which the checks compare with SQL after the drain.
 */

/** Keep one SSE subscriber on `/dashboard/stream`: counts events, keeps the last with figures. */
export function subscribeDashboard(url: string) {
  const controller = new AbortController()
  const state = { events: 0, last: undefined as unknown, error: undefined as string | undefined }
  const reading = (async () => {
    const response = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    if (response.status !== 200 || response.body === null) throw new Error(`SSE answered ${response.status}`)
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true })
      let end = text.indexOf('\n\n')
      while (end !== -1) {
        const block = text.slice(0, end)
        text = text.slice(end + 2)
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n')
        if (data !== '') {
          state.events++
          const parsed = JSON.parse(data) as { figures?: unknown }
          if (parsed?.figures !== undefined) state.last = parsed
        }
        end = text.indexOf('\n\n')
      }
    }
  })().catch((error: Error) => {
    if (!controller.signal.aborted) state.error = `${error.name}: ${error.message}`
  })
  return {
    state,
    async close() {
      controller.abort()
      await reading
    },
  }
}

/** The subscriber {@link subscribeDashboard} returns. */
export type DashboardSubscription = ReturnType<typeof subscribeDashboard>
