/**
 * The two JVM jobs of the metrics-engines benchmark, built by Maven and run in a JVM each:
 *
 * - Kafka Streams: `benchmarks/jvm/kafka-streams` (`InvoiceStatusStreams`), built here the way
 *   the harness builds its launchers (`mvn compile` writes `target/classpath.txt`, the jars stay
 *   in ~/.m2; skipped while the build is newer than the sources).
 * - Flink: the harness's own `services/launcher/flink` (`InvoiceStatusJob`, the Flink SQL job of
 *   `packages/metrics-stream/test/integration/flink/flink-sql.test.ts`), built through
 *   `services/lib/jdk-maven.mjs` as that test does; and `benchmarks/jvm/flink`
 *   (`InvoiceDeltaJob`, the same set-up aggregating deltas), built as the Kafka Streams job.
 *
 * A job prints a line when it starts (`STARTED` for Kafka Streams, `JOB <id>` for Flink): the
 * time from the spawn to that line is the JVM start, reported apart from the job's run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const JVM_DIR = join(ROOT, 'benchmarks', 'jvm')
const SERVICES = join(ROOT, 'services')
/** Heap of each job's JVM (the machine has 2 cores and is shared). */
const HEAP = process.env.METRICS_ENGINES_JVM_HEAP ?? '-Xmx512m'

function newestMtime(path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))))
}

/** The JDK 17 home Maven builds with (`JAVA_HOME`, else Debian's). */
function jdk17(): string {
  return process.env.SERVICES_JAVA17_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64'
}

/** Build `benchmarks/jvm/<module>` unless its classes are newer than its sources and pom. */
function buildModule(module: string): void {
  const dir = join(JVM_DIR, module)
  const cpFile = join(dir, 'target', 'classpath.txt')
  const sources = Math.max(newestMtime(join(dir, 'src')), statSync(join(dir, 'pom.xml')).mtimeMs)
  const fresh =
    existsSync(cpFile) &&
    existsSync(join(dir, 'target', 'classes')) &&
    statSync(cpFile).mtimeMs >= sources &&
    readFileSync(cpFile, 'utf8')
      .trim()
      .split(':')
      .every((jar) => existsSync(jar))
  if (fresh) return
  console.log(`[metrics-engines] building benchmarks/jvm/${module} with Maven ...`)
  const result = spawnSync('mvn', ['-B', '-q', '-f', join(dir, 'pom.xml'), 'compile'], {
    env: { ...process.env, JAVA_HOME: process.env.JAVA_HOME ?? jdk17() },
    encoding: 'utf8',
    timeout: 900_000,
  })
  if (result.status !== 0 || !existsSync(cpFile)) {
    throw new Error(
      `Maven build of benchmarks/jvm/${module} failed (exit ${result.status ?? result.signal}): ${`${result.stdout}${result.stderr}`.slice(-3_000)}`,
    )
  }
  // The dependency plugin leaves an unchanged classpath.txt untouched: touch it for the check above.
  const now = new Date()
  utimesSync(cpFile, now, now)
}

/** The classpaths of the JVM jobs. */
export interface Classpaths {
  /** `benchmarks/jvm/kafka-streams`. */
  streams: string
  /** The harness's `services/launcher/flink`. */
  flink: string
  /** `benchmarks/jvm/flink`. */
  flinkDeltas: string
}

/** Build the jobs (each skipped when fresh); the classpaths to run them with. */
export async function buildJobs(): Promise<Classpaths> {
  buildModule('kafka-streams')
  buildModule('flink')
  const maven = (await import(join(SERVICES, 'lib', 'jdk-maven.mjs'))) as {
    build(names: string[]): Promise<unknown>
  }
  await maven.build(['flink'])
  const classpath = (dir: string) =>
    `${join(dir, 'classes')}:${readFileSync(join(dir, 'classpath.txt'), 'utf8').trim()}`
  return {
    streams: classpath(join(JVM_DIR, 'kafka-streams', 'target')),
    flink: classpath(join(SERVICES, 'target', 'flink')),
    flinkDeltas: classpath(join(JVM_DIR, 'flink', 'target')),
  }
}

/** A running job's JVM. */
export interface Job {
  process: ChildProcess
  /** performance.now() of the spawn. */
  spawnedAt: number
  /** Resolves with performance.now() when the job printed a line matching `pattern`. */
  lineSeen(pattern: RegExp): Promise<number>
  /** Rejects if the JVM exits before `stop()`, with the tail of its output. */
  exited: Promise<never>
  /** The last 4,000 characters the JVM printed. */
  log(): string
  /** CPU seconds (user + system) the JVM has used so far. */
  cpuSeconds(): number
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>
}

/** Start `main` of `classpath` with `args` in a JVM of its own. */
export function startJob(classpath: string, main: string, args: string[]): Job {
  const spawnedAt = performance.now()
  const child = spawn('java', [HEAP, '-cp', classpath, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const waiters: Array<{ pattern: RegExp; resolve: (at: number) => void }> = []
  const seen: Array<{ line: string; at: number }> = []
  const onLine = (line: string) => {
    const at = performance.now()
    seen.push({ line, at })
    for (const waiter of waiters.splice(0)) {
      if (waiter.pattern.test(line)) waiter.resolve(at)
      else waiters.push(waiter)
    }
  }
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    output = (output + chunk).slice(-4_000)
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    output = (output + chunk).slice(-4_000)
  })
  let stopping = false
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => {
      if (!stopping) reject(new Error(`${main} exited with ${code ?? signal}: ${output}`))
    })
  })
  exited.catch(() => undefined)
  return {
    process: child,
    spawnedAt,
    lineSeen(pattern) {
      const earlier = seen.find((entry) => pattern.test(entry.line))
      if (earlier) return Promise.resolve(earlier.at)
      return new Promise((resolve) => waiters.push({ pattern, resolve }))
    },
    exited,
    log: () => output,
    cpuSeconds() {
      // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 per second).
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / 100
    },
    stop(graceMs = 15_000) {
      stopping = true
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
      return new Promise((done) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        child.once('exit', () => {
          clearTimeout(timer)
          done()
        })
        child.kill('SIGTERM')
      })
    },
  }
}
