// Launching the JVM servers (Kafka, OpenSearch, Elasticsearch) as detached processes with their
// marker in the command line: their java arguments, Kafka's server.properties and storage format,
// and Elasticsearch's native libraries.

import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {
  DEFAULTS,
  HarnessError,
  logFile,
  pidFile,
  SERVICES_DIR,
  serviceDir,
  TARGET_DIR,
  warn,
} from './common.mjs'
import { classpathFile, jdkFor } from './jdk-maven.mjs'
import { kafkaPorts, kafkaSecurity, kafkaSecurityProperties } from './kafka-security.mjs'

export function heap(name, fallback) {
  return process.env[`SERVICES_${name.toUpperCase()}_HEAP`] ?? fallback
}

export function extraOpts(name) {
  const v = process.env[`SERVICES_${name.toUpperCase()}_JAVA_OPTS`]
  return v ? v.split(/\s+/).filter(Boolean) : []
}

export function classpath(name) {
  const jars = fs.readFileSync(classpathFile(name), 'utf8').trim()
  return name === 'kafka' ? jars : `${path.join(TARGET_DIR, name, 'classes')}:${jars}`
}

export function kafkaProperties(dir) {
  const p = kafkaPorts()
  const secured = kafkaSecurityProperties(kafkaSecurity())
  const brokerListeners = [`PLAINTEXT://127.0.0.1:${p.plaintext}`, ...secured.listeners]
  // Single KRaft node, broker and controller in one process. Replication factors of the internal
  // topics must be 1 on one broker, or consumers loop on "group coordinator is not available".
  // Brokers talk to themselves over PLAINTEXT; clients may use any listener.
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controller}`,
    `listeners=${[...brokerListeners, `CONTROLLER://127.0.0.1:${p.controller}`].join(',')}`,
    `advertised.listeners=${brokerListeners.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${['PLAINTEXT', 'CONTROLLER', ...secured.protocols].map((l) => `${l}:${l === 'CONTROLLER' ? 'PLAINTEXT' : l}`).join(',')}`,
    ...secured.lines,
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n')
}

export async function formatKafkaStorage(dir, jdk) {
  const props = path.join(dir, 'server.properties')
  fs.writeFileSync(props, kafkaProperties(dir))
  if (fs.existsSync(path.join(dir, 'data', 'meta.properties'))) return
  // A Kafka cluster id is 16 random bytes in URL-safe base64 without padding (22 chars).
  const clusterId = randomBytes(16).toString('base64url')
  const r = spawnSync(
    path.join(jdk.home, 'bin', 'java'),
    [
      '-Xmx256m',
      `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', 'kafka', 'log4j2.properties')}`,
      '-cp',
      classpath('kafka'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      props,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )
  fs.appendFileSync(logFile('kafka'), `${r.stdout ?? ''}${r.stderr ?? ''}`)
  if (r.status !== 0) {
    throw new HarnessError(`kafka storage format failed (${r.status ?? r.signal ?? r.error?.message})`, {
      service: 'kafka',
      logFile: logFile('kafka'),
    })
  }
}

export async function javaCommand(name, jdk) {
  const dir = serviceDir(name)
  const marker = `-Dayala.services.home=${dir}`
  const common = [
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    marker,
  ]
  if (name === 'kafka') {
    await formatKafkaStorage(dir, jdk)
    const h = heap('kafka', '512m')
    return [
      `-Xms${h}`,
      `-Xmx${h}`,
      ...common,
      '-XX:MaxGCPauseMillis=20',
      `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', 'kafka', 'log4j2.properties')}`,
      ...extraOpts(name),
      '-cp',
      classpath('kafka'),
      'kafka.Kafka',
      path.join(dir, 'server.properties'),
    ]
  }
  const home = path.join(dir, 'home')
  const h = heap(name, '1g')
  const url = new URL(DEFAULTS[name].url)
  const settings = [`path.home=${home}`, `http.port=${url.port}`, `transport.port=${Number(url.port) + 100}`]
  const jvm = [
    `-Xms${h === '1g' ? '512m' : h}`,
    `-Xmx${h}`,
    ...common,
    `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', name, 'log4j2.properties')}`,
    '-Dlog4j2.disable.jmx=true',
    // the node's own shutdown hook closes it; log4j's would stop logging before that finishes
    '-Dlog4j.shutdownHookEnabled=false',
  ]
  if (name === 'opensearch') {
    return [
      ...jvm,
      ...extraOpts(name),
      '-cp',
      classpath(name),
      'dev.ayala.services.OpenSearchLauncher',
      ...settings,
    ]
  }
  const nativeLibs = elasticsearchNativeLibs(dir)
  // Lucene 10 and ES 9 use the foreign-function API and the Vector API when allowed; granting
  // them avoids warnings and the slower fallbacks.
  return [
    ...jvm,
    '--enable-native-access=ALL-UNNAMED',
    '--add-modules=jdk.incubator.vector',
    // Netty 4.1 still allocates through sun.misc.Unsafe; JDK 24+ warns on every start without this.
    ...(jdk.major >= 24 ? ['--sun-misc-unsafe-memory-access=allow'] : []),
    ...(nativeLibs
      ? [
          `-Des.nativelibs.path=${nativeLibs}`,
          // libvec (SIMD vector distances) is Elastic's own build, not on Maven Central nor in
          // Debian; a missing libvec would switch the whole native provider off again. Lucene's
          // Panama vector code (the default without it) is what the node used before anyway.
          '-Dorg.elasticsearch.nativeaccess.enableVectorLibrary=false',
        ]
      : []),
    ...extraOpts(name),
    '-cp',
    classpath(name),
    'dev.ayala.services.ElasticsearchLauncher',
    ...settings,
  ]
}

// The machine's libzstd (Debian's libzstd1, a pre-dependency of dpkg, so on every Debian/Ubuntu).
export const ZSTD_CANDIDATES = [
  process.arch === 'arm64'
    ? '/usr/lib/aarch64-linux-gnu/libzstd.so.1'
    : '/usr/lib/x86_64-linux-gnu/libzstd.so.1',
  '/usr/lib64/libzstd.so.1',
  '/usr/lib/libzstd.so.1',
]

/**
 * ES 9's native access (org.elasticsearch.nativeaccess) loads its libraries by file name from
 * -Des.nativelibs.path, else from <es.path.home>/lib/platform/<os>-<arch>, a system property only
 * the distribution's launcher sets. An embedded node has neither: the loader's static init throws
 * a NullPointerException and the whole native provider is off ("Unable to load native provider"),
 * which leaves ES without zstd: an index with `index.codec: best_compression` (zstd stored fields)
 * fails its shard on the first refresh. The distribution's libzstd.so is not on Maven Central, but
 * the stable zstd API ES binds (ZSTD_compress, ZSTD_decompress, ...) is the system library's, so a
 * directory holding `libzstd.so` (the exact name ES asks for) linked to it is enough. Returns that
 * directory, or null when no libzstd is found (the node then starts as before, without native access).
 */
export function elasticsearchNativeLibs(dir) {
  if (process.platform !== 'linux') return null
  const lib = ZSTD_CANDIDATES.find((f) => fs.existsSync(f))
  if (!lib) {
    warn(
      '[elasticsearch] no libzstd.so.1 found (apt-get install -y libzstd1): starting without native access',
    )
    return null
  }
  const libDir = path.join(dir, 'native')
  const link = path.join(libDir, 'libzstd.so')
  fs.mkdirSync(libDir, { recursive: true })
  let current = null
  try {
    current = fs.readlinkSync(link)
  } catch {
    // no link yet (or a plain file left by hand): recreated below
  }
  if (current !== lib) {
    fs.rmSync(link, { force: true })
    fs.symlinkSync(lib, link)
  }
  return libDir
}

export async function startJvm(name) {
  const jdk = jdkFor(name)
  const dir = serviceDir(name)
  fs.mkdirSync(dir, { recursive: true })
  // Logs are appended across restarts (a crash's story stays readable); keep one old generation.
  if (fs.existsSync(logFile(name)) && fs.statSync(logFile(name)).size > 20 * 1024 * 1024) {
    fs.renameSync(logFile(name), `${logFile(name)}.1`)
  }
  fs.appendFileSync(
    logFile(name),
    `\n===== ayala-services: starting ${name} at ${new Date().toISOString()} =====\n`,
  )
  const args = await javaCommand(name, jdk)
  const out = fs.openSync(logFile(name), 'a')
  const child = spawn(path.join(jdk.home, 'bin', 'java'), args, {
    cwd: dir,
    detached: true, // own session: survives this CLI, and `down` can signal the whole group
    stdio: ['ignore', out, out],
    env: { ...process.env, JAVA_HOME: jdk.home },
  })
  fs.closeSync(out)
  child.unref()
  fs.writeFileSync(pidFile(name), `${child.pid}\n`)
  return child.pid
}
