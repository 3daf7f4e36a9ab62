// The cluster topologies (`up --cluster`): three Kafka KRaft nodes and three OpenSearch nodes on
// loopback, next to the single-node servers (which keep their ports and stay the default). This
// module holds what the nodes are (names, ports, directories), their command lines, the per-node
// pid check and the environment entries; cluster-commands.mjs runs them.
//
// - Kafka: kafka-1..3, combined broker + controller each, a static quorum of the three
//   controllers, PLAINTEXT on 19092-19094, controllers on 19192-19194, one cluster id shared by the
//   three storage formats (.services/kafka-cluster/cluster-id). Replication factor 3 by default
//   (internal topics included), min.insync.replicas 2, no unclean leader election.
// - OpenSearch: opensearch-1..3, one cluster "ayala-cluster", HTTP 9210-9212, transport 9310-9312,
//   every node cluster-manager-eligible and data; indices get 1 replica (OpenSearch's default).
// - Redis: redis-1 (the first primary) and redis-2 (its replica) on 16379-16380, sentinel-1..3
//   on 26379-26381 watching them as "ayala" (cluster-redis.mjs has the topology and its rules).
// Heaps and thread pools are trimmed for a 2-core machine (SERVICES_KAFKA_CLUSTER_HEAP,
// SERVICES_OPENSEARCH_CLUSTER_HEAP override the heaps).

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ownsRedisPid, REDIS_NODES, redisEnv, spawnRedisNode } from './cluster-redis.mjs'
import {
  cmdline,
  HarnessError,
  logFile,
  pidAlive,
  pidFile,
  SERVICES_DIR,
  STATE_DIR,
  serviceDir,
  TARGET_DIR,
} from './common.mjs'
import { classpathFile, jdkFor } from './jdk-maven.mjs'

export const CLUSTER_SIZE = 3
export const KAFKA_CLUSTER_PORT = 19092
export const KAFKA_CLUSTER_CONTROLLER_PORT = 19192
export const OPENSEARCH_CLUSTER_HTTP_PORT = 9210
export const OPENSEARCH_CLUSTER_TRANSPORT_PORT = 9310
export const OPENSEARCH_CLUSTER_NAME = 'ayala-cluster'

const range = [...Array(CLUSTER_SIZE).keys()]

/** Every node of both clusters: { name, kind, id, port, url, ... }. */
export const CLUSTER_NODES = [
  ...range.map((i) => ({
    name: `kafka-${i + 1}`,
    kind: 'kafka',
    id: i + 1,
    port: KAFKA_CLUSTER_PORT + i,
    controller: KAFKA_CLUSTER_CONTROLLER_PORT + i,
    url: `127.0.0.1:${KAFKA_CLUSTER_PORT + i}`,
  })),
  ...range.map((i) => ({
    name: `opensearch-${i + 1}`,
    kind: 'opensearch',
    id: i + 1,
    port: OPENSEARCH_CLUSTER_HTTP_PORT + i,
    transport: OPENSEARCH_CLUSTER_TRANSPORT_PORT + i,
    url: `http://127.0.0.1:${OPENSEARCH_CLUSTER_HTTP_PORT + i}`,
  })),
  ...REDIS_NODES,
]
export const CLUSTER_NAMES = CLUSTER_NODES.map((n) => n.name)
export const CLUSTER_KINDS = ['kafka', 'opensearch', 'redis']

export function clusterNode(name) {
  const node = CLUSTER_NODES.find((n) => n.name === name)
  if (!node) throw new HarnessError(`unknown cluster node "${name}" (one of ${CLUSTER_NAMES.join(', ')})`)
  return node
}

/** Node names from CLI words: a node name, or a kind (`kafka`, `opensearch`, `redis`) for its nodes. */
export function clusterSelection(words) {
  if (words.length === 0) return CLUSTER_NAMES
  return [
    ...new Set(
      words.flatMap((w) =>
        CLUSTER_KINDS.includes(w) ? CLUSTER_NODES.filter((n) => n.kind === w).map((n) => n.name) : [w],
      ),
    ),
  ].map((w) => clusterNode(w).name)
}

const marker = (name) => `-Dayala.services.home=${serviceDir(name)}`

/** The pid recorded for a cluster node, if that process is alive and carries its marker. */
export function clusterPid(name) {
  let pid
  try {
    pid = Number(fs.readFileSync(pidFile(name), 'utf8').trim())
  } catch {
    return null
  }
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return null
  const node = clusterNode(name)
  if (node.kind === 'redis') return ownsRedisPid(node, pid) ? pid : null
  return cmdline(pid)?.includes(marker(name)) ? pid : null
}

/**
 * The environment entries of the clusters that have at least one node this harness runs:
 * KAFKA_CLUSTER_BROKERS, OPENSEARCH_CLUSTER_NODES, REDIS_CLUSTER_SENTINELS +
 * REDIS_CLUSTER_SENTINEL_NAME, REDIS_CLUSTER_NODES. Named apart from KAFKA_BROKERS, REDIS_SENTINELS
 * and the like, so that loading .services/env never moves an application or a test off the
 * single-node servers.
 */
export function clusterEnv() {
  const env = {}
  const running = (kind) => CLUSTER_NODES.some((n) => n.kind === kind && clusterPid(n.name))
  const urls = (kind) =>
    CLUSTER_NODES.filter((n) => n.kind === kind)
      .map((n) => n.url)
      .join(',')
  if (running('kafka')) env.KAFKA_CLUSTER_BROKERS = urls('kafka')
  if (running('opensearch')) env.OPENSEARCH_CLUSTER_NODES = urls('opensearch')
  Object.assign(
    env,
    redisEnv((name) => clusterPid(name) !== null),
  )
  return env
}

function heap(kind) {
  const fallback = kind === 'kafka' ? '384m' : '512m'
  return process.env[`SERVICES_${kind.toUpperCase()}_CLUSTER_HEAP`] ?? fallback
}

function classpath(kind) {
  const jars = fs.readFileSync(classpathFile(kind), 'utf8').trim()
  return kind === 'kafka' ? jars : `${path.join(TARGET_DIR, kind, 'classes')}:${jars}`
}

export function kafkaClusterProperties(node) {
  const voters = CLUSTER_NODES.filter((n) => n.kind === 'kafka')
    .map((n) => `${n.id}@127.0.0.1:${n.controller}`)
    .join(',')
  return [
    'process.roles=broker,controller',
    `node.id=${node.id}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controller}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${path.join(serviceDir(node.name), 'data')}`,
    'num.partitions=6',
    'default.replication.factor=3',
    'min.insync.replicas=2',
    'unclean.leader.election.enable=false',
    'offsets.topic.replication.factor=3',
    'offsets.topic.num.partitions=6',
    'transaction.state.log.replication.factor=3',
    'transaction.state.log.min.isr=2',
    'transaction.state.log.num.partitions=6',
    'share.coordinator.state.topic.replication.factor=3',
    'share.coordinator.state.topic.min.isr=2',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    // A dead broker leaves the ISR when its session expires (default 9 s): 6 s here.
    'broker.session.timeout.ms=6000',
    'broker.heartbeat.interval.ms=1000',
    // Thread pools for a 2-core machine shared by six JVMs.
    'num.network.threads=2',
    'num.io.threads=2',
    'num.replica.fetchers=1',
    'background.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'log.cleaner.threads=1',
    'log.retention.hours=24',
    'log.segment.bytes=16777216',
    '',
  ].join('\n')
}

function clusterId() {
  const file = path.join(STATE_DIR, 'kafka-cluster', 'cluster-id')
  fs.mkdirSync(path.dirname(file), { recursive: true })
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${randomBytes(16).toString('base64url')}\n`)
  return fs.readFileSync(file, 'utf8').trim()
}

const kafkaLog4j = () => path.join(SERVICES_DIR, 'launcher', 'kafka', 'log4j2.properties')

/** Formats a Kafka node's storage once (same cluster id for the three); rewrites its properties. */
export async function formatKafkaNode(node) {
  const dir = serviceDir(node.name)
  const props = path.join(dir, 'server.properties')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(props, kafkaClusterProperties(node))
  if (fs.existsSync(path.join(dir, 'data', 'meta.properties'))) return
  const jdk = jdkFor('kafka')
  const args = [
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${kafkaLog4j()}`,
    '-cp',
    classpath('kafka'),
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId(),
    '-c',
    props,
  ]
  const out = fs.openSync(logFile(node.name), 'a')
  const code = await new Promise((resolve) => {
    const child = spawn(path.join(jdk.home, 'bin', 'java'), args, { stdio: ['ignore', out, out] })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', (c, sig) => {
      clearTimeout(timer)
      resolve(sig ? `signal ${sig}` : c)
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve(e.message)
    })
  })
  fs.closeSync(out)
  if (code !== 0)
    throw new HarnessError(`${node.name} storage format failed (${code})`, {
      service: node.name,
      logFile: logFile(node.name),
    })
}

export function clusterJavaArgs(node) {
  const h = heap(node.kind)
  const common = [
    `-Xms${h}`,
    `-Xmx${h}`,
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    // One CPU as the JVM sees it: GC, JIT and common-pool threads sized for a shared 2-core box.
    '-XX:ActiveProcessorCount=1',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    marker(node.name),
  ]
  if (node.kind === 'kafka') {
    return [
      ...common,
      '-XX:MaxGCPauseMillis=20',
      `-Dlog4j2.configurationFile=${kafkaLog4j()}`,
      '-cp',
      classpath('kafka'),
      'kafka.Kafka',
      path.join(serviceDir(node.name), 'server.properties'),
    ]
  }
  const nodes = CLUSTER_NODES.filter((n) => n.kind === 'opensearch')
  return [
    ...common,
    '-XX:MaxDirectMemorySize=256m',
    `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', 'opensearch', 'log4j2.properties')}`,
    '-Dlog4j2.disable.jmx=true',
    '-Dlog4j.shutdownHookEnabled=false',
    '-cp',
    classpath('opensearch'),
    'dev.ayala.services.OpenSearchLauncher',
    `path.home=${path.join(serviceDir(node.name), 'home')}`,
    `cluster.name=${OPENSEARCH_CLUSTER_NAME}`,
    `node.name=${node.name}`,
    `http.port=${node.port}`,
    `transport.port=${node.transport}`,
    'discovery.type=zen',
    `discovery.seed_hosts=${nodes.map((n) => `127.0.0.1:${n.transport}`).join(',')}`,
    `cluster.initial_cluster_manager_nodes=${nodes.map((n) => n.name).join(',')}`,
    // Thread pools sized as for one processor (search 2, write 1, ...).
    'node.processors=1',
  ]
}

/** Spawns a cluster node detached (its own session), stdio to its log; returns its pid. */
export async function startClusterNode(node) {
  const dir = serviceDir(node.name)
  fs.mkdirSync(dir, { recursive: true })
  if (fs.existsSync(logFile(node.name)) && fs.statSync(logFile(node.name)).size > 20 * 1024 * 1024)
    fs.renameSync(logFile(node.name), `${logFile(node.name)}.1`)
  fs.appendFileSync(
    logFile(node.name),
    `\n===== ayala-services: starting ${node.name} at ${new Date().toISOString()} =====\n`,
  )
  if (node.kind === 'redis') return spawnRedisNode(node)
  if (node.kind === 'kafka') await formatKafkaNode(node)
  const jdk = jdkFor(node.kind)
  const out = fs.openSync(logFile(node.name), 'a')
  const child = spawn(path.join(jdk.home, 'bin', 'java'), clusterJavaArgs(node), {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, JAVA_HOME: jdk.home },
  })
  fs.closeSync(out)
  child.unref()
  fs.writeFileSync(pidFile(node.name), `${child.pid}\n`)
  return child.pid
}
