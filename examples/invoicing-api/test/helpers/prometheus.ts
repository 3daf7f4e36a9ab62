/**
 * The Prometheus tools the monitoring test runs for real (Debian's `prometheus` package, which
 * scripts/setup.sh installs): `promtool check metrics` on a `/metrics` text, and a private
 * `prometheus` server scraping one target every second, with its storage in a temp dir and its
 * HTTP API on a free loopback port, queried with PromQL.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freePort } from '@ayala/testkit'

/** The absolute path of `name` on PATH, or a thrown error saying how to install it. */
export function requireTool(name: 'promtool' | 'prometheus'): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // Not in this PATH entry: the next one is tried, and the error below names the fix.
    }
  }
  throw new Error(
    `${name} is not installed (not on PATH): run scripts/setup.sh, which installs Debian's prometheus package (promtool and prometheus), or apt-get install -y prometheus`,
  )
}

/** What `promtool check metrics` said about a metrics text: its exit code and its output. */
export interface PromtoolResult {
  code: number
  output: string
}

/** Run `promtool check metrics` on `text` (given on stdin). */
export function promtoolCheckMetrics(text: string): Promise<PromtoolResult> {
  const promtool = requireTool('promtool')
  return new Promise((resolve, reject) => {
    const child = execFile(promtool, ['check', 'metrics'], { timeout: 60_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim()
      if (error === null) resolve({ code: 0, output })
      else if (typeof error.code === 'number') resolve({ code: error.code, output })
      else reject(error)
    })
    child.stdin?.end(text)
  })
}

/** One series of an instant-query answer. */
export interface PromSeries {
  metric: Record<string, string>
  value: number
}

/** A private Prometheus server scraping one target. */
export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` of its HTTP API. */
  url: string
  /** The scrape job's name (the `job` label of every scraped series). */
  job: string
  /** Run an instant PromQL query (at `time`, epoch seconds, when given). */
  query(promql: string, time?: number): Promise<PromSeries[]>
  /** Whether the target's last scrape succeeded. */
  targetUp(): Promise<boolean>
  /** What the server wrote to its output (for a failure message). */
  log(): string
  /** Stop the server (SIGTERM, then SIGKILL) and remove its config and storage. */
  stop(): Promise<void>
}

/** Start `prometheus` scraping `target` (`127.0.0.1:<port>`) at `/metrics` every second. */
export async function startPrometheus(target: string, job = 'invoicing'): Promise<PrometheusServer> {
  const binary = requireTool('prometheus')
  const dir = await mkdtemp(join(tmpdir(), 'ayala-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  await writeFile(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${job}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`)
    const body = (await response.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`)
    return body.data
  }

  const server: PrometheusServer = {
    url,
    job,
    async query(promql, time) {
      const params = new URLSearchParams({ query: promql })
      if (time !== undefined) params.set('time', String(time))
      const data = await api<{
        resultType: string
        result: Array<{ metric: Record<string, string>; value: [number, string] }>
      }>(`/api/v1/query?${params}`)
      if (data.resultType !== 'vector')
        throw new Error(`expected a vector for ${promql}, got ${data.resultType}`)
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
    },
    async targetUp() {
      const data = await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string }> }>(
        '/api/v1/targets?state=active',
      )
      return data.activeTargets.some((t) => t.labels.job === job && t.health === 'up')
    },
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      await rm(dir, { recursive: true, force: true })
    },
  }

  // Ready once its API answers (or fail with what it said, e.g. a port taken meanwhile).
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`prometheus exited (${child.exitCode}) at start-up: ${output}`)
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return server
    } catch {
      // Not listening yet: polled again below until the deadline.
    }
    if (Date.now() > deadline) {
      await server.stop()
      throw new Error(`prometheus did not become ready within 60 s: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
