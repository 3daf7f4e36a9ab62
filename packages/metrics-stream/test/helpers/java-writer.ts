/**
 * Records written by the Kafka Java client, as a Java service, Flink or Kafka Streams would write
 * them: `RecordWriter.java` (next to this file) is compiled once per source and classpath with
 * `javac` against the Kafka client jars the services harness resolved
 * (`services/target/kafka/classpath.txt`, written by `node services/cli.mjs up`; resolved with
 * Maven here when it is missing), into a directory under the OS temp dir, then run with the
 * commands of a {@link WriterScript} on stdin.
 */
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SOURCE = path.join(import.meta.dirname, 'java', 'RecordWriter.java')

function repoRoot(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir
    if (path.dirname(dir) === dir) throw new Error('pnpm-workspace.yaml not found above the test')
  }
}

/**
 * The Kafka client jars. `node services/cli.mjs up` writes the list when it builds the Kafka
 * launcher; a checkout whose Kafka was already running (started from another checkout) has no
 * list yet, so resolve it the way the harness does (Maven, jars from ~/.m2).
 */
async function kafkaClasspath(): Promise<string> {
  const root = repoRoot()
  const file = path.join(root, 'services', 'target', 'kafka', 'classpath.txt')
  if (!existsSync(file)) {
    await run('mvn', [
      '-B',
      '-q',
      '-f',
      path.join(root, 'services', 'pom.xml'),
      '-pl',
      'launcher/kafka',
      'compile',
    ])
  }
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`node services/cli.mjs up\` (it resolves the Kafka jars)`)
  }
  return readFileSync(file, 'utf8').trim()
}

function javaTool(name: 'java' | 'javac'): string {
  const home = process.env.JAVA_HOME
  return home && existsSync(path.join(home, 'bin', name)) ? path.join(home, 'bin', name) : name
}

let compiled: Promise<{ classes: string; classpath: string }> | undefined

/** Compile the writer (once per source + classpath; concurrent test files share the result). */
function compile(): Promise<{ classes: string; classpath: string }> {
  compiled ??= (async () => {
    const classpath = await kafkaClasspath()
    const source = readFileSync(SOURCE)
    const hash = createHash('sha1').update(source).update(classpath).digest('hex').slice(0, 16)
    const classes = path.join(tmpdir(), `ayala-record-writer-${hash}`)
    if (!existsSync(path.join(classes, 'RecordWriter.class'))) {
      const staging = mkdtempSync(path.join(tmpdir(), 'ayala-record-writer-build-'))
      await run(javaTool('javac'), ['-nowarn', '-cp', classpath, '-d', staging, SOURCE])
      try {
        renameSync(staging, classes)
      } catch (error) {
        // Another test process renamed its identical build first.
        rmSync(staging, { recursive: true, force: true })
        if (!existsSync(path.join(classes, 'RecordWriter.class'))) throw error
      }
    }
    return { classes, classpath }
  })()
  return compiled
}

/** One record as the Java producer sends it (strings are written as UTF-8). */
export interface JavaRecord {
  key: string | null
  value: string | null
  /** Header name to value. */
  headers?: Record<string, string> | undefined
  /** Explicit partition; omitted: the Java default partitioner. */
  partition?: number | undefined
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

/** The commands the writer runs, in order. */
export class WriterScript {
  readonly lines: string[] = []
  sent = 0
  send(record: JavaRecord, producer = 0): this {
    const headers = Object.entries(record.headers ?? {})
      .map(([name, value]) => `${name}=${b64(value)}`)
      .join(',')
    this.lines.push(
      [
        'SEND',
        producer,
        record.partition ?? '-',
        record.key === null ? '-' : b64(record.key),
        record.value === null ? '-' : b64(record.value),
        headers === '' ? '-' : headers,
      ].join('\t'),
    )
    this.sent++
    return this
  }
  begin(producer = 0): this {
    this.lines.push(`BEGIN\t${producer}`)
    return this
  }
  commit(producer = 0): this {
    this.lines.push(`COMMIT\t${producer}`)
    return this
  }
  abort(producer = 0): this {
    this.lines.push(`ABORT\t${producer}`)
    return this
  }
  flush(producer = 0): this {
    this.lines.push(`FLUSH\t${producer}`)
    return this
  }
}

export interface JavaWriterOptions {
  brokers: string[]
  topic: string
  /** Kafka `compression.type`: none, gzip, snappy, lz4, zstd. */
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  script: WriterScript
  /** Producers the script addresses (0..n-1). @default 1 */
  producers?: number
  /** `transactional.id` prefix (producer i gets `<prefix>-i`); omitted: not transactional. */
  transactionalId?: string
  /** The producers' `batch.size` in bytes (Kafka's default: 16384). */
  batchSize?: number
}

/** Run the Java producer; resolves once every record was acknowledged by the broker. */
export async function writeWithJava(options: JavaWriterOptions): Promise<void> {
  const { classes, classpath } = await compile()
  const args = [
    '-Dlog4j2.StatusLogger.level=OFF',
    '-cp',
    `${classes}${path.delimiter}${classpath}`,
    'RecordWriter',
    options.brokers.join(','),
    options.topic,
    options.compression,
    String(options.producers ?? 1),
    options.transactionalId ?? '-',
    ...(options.batchSize === undefined ? [] : [String(options.batchSize)]),
  ]
  const child = spawn(javaTool('java'), args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  child.stdin.end(`${options.script.lines.join('\n')}\n`)
  const code = await exited
  if (code !== 0 || !stdout.includes(`OK ${options.script.sent}`)) {
    throw new Error(`RecordWriter exited with ${code}: ${stdout}\n${stderr.slice(-4_000)}`)
  }
}
