#!/usr/bin/env node
// @ayala/services: starts the real servers the integration tests and the demo need, without Docker.
//
//   node services/cli.mjs up|down|status|logs|clean [name...] [--lines N]
//   node services/cli.mjs up|down|kill|restart|status|logs|clean --cluster [node...]
//
// Names: kafka, opensearch, elasticsearch (JVM servers this harness owns) and redis, mariadb,
// postgres (the machine's own servers, checked and started when down). Default: all of them.
//
// How it works
// - Jars come from Maven Central through services/pom.xml: one Maven module per server writes the
//   runtime classpath (paths into ~/.m2) to services/target/<name>/classpath.txt and compiles the
//   small launcher. The build runs only when that file is missing, older than the module's sources,
//   or names a jar that is gone from ~/.m2.
// - Each server runs as a detached JVM (its own session, stdio to .services/<name>/<name>.log),
//   so `up` returns while it keeps running. Its pid is written to .services/<name>/pid and its
//   command line carries -Dayala.services.home=<that dir>: `down` kills a pid only when
//   /proc/<pid>/cmdline still carries that marker, so a recycled pid is never killed.
// - Health: Kafka answers an ApiVersions then a Metadata request (raw Kafka protocol over TCP) with
//   at least one broker and a controller; OpenSearch/Elasticsearch answer GET /_cluster/health with
//   green or yellow (and Elasticsearch with the X-Elastic-Product header the official client
//   checks); Redis answers PING; MariaDB sends its handshake packet; PostgreSQL answers an
//   SSLRequest with 'S' or 'N'.
// - A service whose URL is set in the environment (KAFKA_BROKERS, OPENSEARCH_URL,
//   ELASTICSEARCH_URL, REDIS_URL, DATABASE_URL, POSTGRES_URL) is only checked, never started or
//   stopped.
// - Every wait is bounded (SERVICES_TIMEOUT seconds, default 180, for health; fixed limits for
//   Maven and the Kafka storage format) and fails with the tail of the service's log.
//
// Modules (services/lib, each dependency-free):
// - common.mjs: paths, names and default addresses, HarnessError, pid and log helpers
// - tcp.mjs: the one bounded TCP/TLS exchange every check uses
// - kafka-wire.mjs: Kafka's wire protocol (framing, flexible encodings) and the broker check
// - health.mjs: the other checks (search engines, Redis, MariaDB, PostgreSQL) and `check`
// - kafka-security.mjs: the SCRAM user, certificates and proof of the SASL/TLS listeners
// - jdk-maven.mjs: JDK selection and the Maven build of stale launchers
// - jvm.mjs: the JVM servers' command lines, Kafka's properties and storage, starting them
// - machine.mjs: starting the machine's Redis, MariaDB and PostgreSQL
// - commands.mjs: up, down, status, logs, clean, and the checkout's lock
// - cluster.mjs, cluster-commands.mjs, cluster-redis.mjs: the 3-node Kafka and OpenSearch
//   clusters and the Redis Sentinel topology (`--cluster`)
//
// Dependency-free on purpose: it runs on Node 20 and 24 before `pnpm install`.

import path from 'node:path'
import { CLUSTER_KINDS, CLUSTER_NAMES, clusterPid, clusterSelection } from './lib/cluster.mjs'
import { clusterClean, clusterDown, clusterKill, clusterStatus, clusterUp } from './lib/cluster-commands.mjs'
import { clean, down, logs, status, up, withLock } from './lib/commands.mjs'
import {
  ALL_NAMES,
  HarnessError,
  JVM_NAMES,
  LOG_TAIL_LINES,
  log,
  ownedPid,
  ROOT,
  STOP_GRACE_MS,
  tail,
  warn,
} from './lib/common.mjs'

const USAGE = `usage: node services/cli.mjs <up|down|status|logs|clean> [name...] [--lines N]
  names: ${ALL_NAMES.join(', ')} (default: all; down/clean default to ${JVM_NAMES.join(', ')} plus redis/mariadb if this harness started them; postgres is never stopped)
  up      start what is not running, wait until healthy, print URLs, write .services/env and env.json
  down    stop what this harness started (SIGTERM, SIGKILL after ${STOP_GRACE_MS / 1000} s)
  status  state, pid, RSS and URL of each service (exit 3 when one is not healthy)
  logs    tail of each service's log (default 100 lines)
  clean   down, then delete the data and logs of the JVM servers
cluster mode (3-node Kafka and OpenSearch clusters and a Redis primary, replica and 3 Sentinels
  next to the single-node servers; nodes ${CLUSTER_NAMES.join(', ')};
  \`kafka\` / \`opensearch\` / \`redis\` = that cluster's nodes; default all of them):
  up --cluster [node...]      start the missing nodes, wait for every member, write
                              KAFKA_CLUSTER_BROKERS, OPENSEARCH_CLUSTER_NODES, REDIS_CLUSTER_SENTINELS,
                              REDIS_CLUSTER_SENTINEL_NAME, REDIS_CLUSTER_NODES into .services/env
  down|status|clean --cluster [node...], or down|status|logs <node>
  kill <node...>              SIGKILL (failover tests), then \`up --cluster <node>\` restarts it
  restart <node...>           down (SIGTERM), then up
  (plain \`down\` also stops the cluster nodes this harness started)
env: KAFKA_BROKERS OPENSEARCH_URL ELASTICSEARCH_URL REDIS_URL DATABASE_URL (use that server, start none),
     SERVICES_TIMEOUT (s, default 180), SERVICES_<NAME>_HEAP, SERVICES_<NAME>_JAVA_OPTS,
     SERVICES_JAVA17_HOME, SERVICES_JAVA21_HOME`

async function main() {
  const argv = process.argv.slice(2)
  const command = argv[0]
  let lines = 100
  let cluster = false
  const names = []
  const nodes = []
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--lines' || argv[i] === '-n') lines = Number(argv[++i])
    else if (argv[i] === '--cluster') cluster = true
    else if (CLUSTER_NAMES.includes(argv[i])) nodes.push(argv[i])
    else if (ALL_NAMES.includes(argv[i])) names.push(argv[i])
    else throw new HarnessError(`unknown service "${argv[i]}"\n${USAGE}`)
  }
  if (cluster || nodes.length > 0 || command === 'kill' || command === 'restart') {
    // In cluster mode `kafka` / `opensearch` / `redis` stand for the nodes of that cluster.
    if (names.some((n) => !CLUSTER_KINDS.includes(n)) || (!cluster && names.length > 0))
      throw new HarnessError(
        `cluster mode takes node names (${CLUSTER_NAMES.join(', ')}), kafka, opensearch or redis\n${USAGE}`,
      )
    return clusterCommand(
      command,
      clusterSelection([...names, ...nodes]),
      lines,
      nodes.length + names.length > 0,
    )
  }
  const selected = names.length > 0 ? names : ALL_NAMES
  const runningNodes = () => CLUSTER_NAMES.filter((n) => clusterPid(n))
  switch (command) {
    case 'up':
      return withLock(() => up(selected))
    case 'down':
      return withLock(async () => {
        await down(names.length > 0 ? names : ALL_NAMES.filter((n) => JVM_NAMES.includes(n) || ownedPid(n)))
        if (names.length === 0 && runningNodes().length > 0) await clusterDown(runningNodes())
      })
    case 'status': {
      const extra = names.length === 0 ? runningNodes() : []
      await status(selected)
      if (extra.length > 0 && !(await clusterStatus(extra))) process.exitCode = 3
      return
    }
    case 'logs':
      return logs(names.length > 0 ? names : JVM_NAMES, lines)
    case 'clean':
      return withLock(() =>
        clean(names.length > 0 ? names : ALL_NAMES.filter((n) => JVM_NAMES.includes(n) || ownedPid(n))),
      )
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      log(USAGE)
      return
    default:
      throw new HarnessError(`unknown command "${command}"\n${USAGE}`)
  }
}

async function clusterCommand(command, nodes, lines, named) {
  switch (command) {
    case 'up':
      return withLock(() => clusterUp(nodes))
    case 'down':
      return withLock(() => clusterDown(nodes))
    case 'kill':
      if (!named) throw new HarnessError(`kill needs node names (${CLUSTER_NAMES.join(', ')})`)
      return withLock(() => clusterKill(nodes))
    case 'restart':
      if (!named) throw new HarnessError(`restart needs node names (${CLUSTER_NAMES.join(', ')})`)
      return withLock(async () => {
        await clusterDown(nodes)
        await clusterUp(nodes)
      })
    case 'status':
      if (!(await clusterStatus(nodes))) process.exitCode = 3
      return
    case 'logs':
      return logs(nodes, lines)
    case 'clean':
      return withLock(() => clusterClean(nodes))
    default:
      throw new HarnessError(`unknown command "${command}" in cluster mode\n${USAGE}`)
  }
}

main().catch((e) => {
  warn(`services: ${e.message}`)
  if (e.logFile) {
    warn(`----- last ${LOG_TAIL_LINES} lines of ${path.relative(ROOT, e.logFile)} -----`)
    warn(tail(e.logFile))
  }
  process.exitCode = 1
})
