// The machine's own Redis, MariaDB and PostgreSQL: started (installed with apt-get when missing
// and running as root) only when they are down and not given by the environment.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { DEFAULTS, HarnessError, hostPort, log, logFile, pidFile, serviceDir, which } from './common.mjs'

export function aptInstall(pkg) {
  if (process.getuid?.() !== 0 || !which('apt-get')) return false
  log(`[${pkg}] not installed: apt-get install -y ${pkg} ...`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'inherit', env, timeout: 600_000 })
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env, timeout: 600_000 })
    r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'inherit', env, timeout: 600_000 })
  }
  return r.status === 0
}

export async function startRedis() {
  const bin = which('redis-server') ?? (aptInstall('redis-server') ? which('redis-server') : null)
  if (!bin)
    throw new HarnessError(
      'Redis is down and redis-server is not installed (apt-get install -y redis-server)',
      { service: 'redis' },
    )
  fs.mkdirSync(serviceDir('redis'), { recursive: true })
  const { port } = hostPort(DEFAULTS.redis.url, 6379)
  const r = spawnSync(
    bin,
    [
      '--daemonize',
      'yes',
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--pidfile',
      pidFile('redis'),
      '--logfile',
      logFile('redis'),
      '--dir',
      serviceDir('redis'),
    ],
    { encoding: 'utf8', timeout: 30_000 },
  )
  if (r.status !== 0)
    throw new HarnessError(`redis-server failed: ${r.stderr || r.stdout}`, {
      service: 'redis',
      logFile: logFile('redis'),
    })
}

export async function startMariadb() {
  const bin = fs.existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : which('mariadbd')
  if (!bin)
    throw new HarnessError(
      'MariaDB is down and mariadbd is not installed (apt-get install -y mariadb-server)',
      { service: 'mariadb' },
    )
  fs.mkdirSync(serviceDir('mariadb'), { recursive: true })
  fs.mkdirSync('/run/mysqld', { recursive: true })
  spawnSync('chown', ['mysql:mysql', '/run/mysqld'])
  const r = spawnSync(
    'start-stop-daemon',
    [
      '--start',
      '--oknodo',
      '--background',
      '--make-pidfile',
      '--pidfile',
      pidFile('mariadb'),
      // stdout/stderr to our log, opened by start-stop-daemon as root (mariadbd drops to the mysql
      // user afterwards and could not open a file in a root-owned folder itself)
      '--output',
      logFile('mariadb'),
      '--exec',
      bin,
      '--',
      '--user=mysql',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  )
  if (r.status !== 0)
    throw new HarnessError(`start-stop-daemon mariadbd failed: ${r.stderr || r.stdout}`, {
      service: 'mariadb',
    })
}

/** The machine's PostgreSQL clusters (Debian's `pg_ctlcluster`), started when down. */
export async function startPostgres() {
  if (!which('pg_ctlcluster') && !aptInstall('postgresql'))
    throw new HarnessError('PostgreSQL is down and not installed (apt-get install -y postgresql)', {
      service: 'postgres',
    })
  const versions = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql') : []
  if (versions.length === 0)
    throw new HarnessError('PostgreSQL is installed but has no cluster under /etc/postgresql', {
      service: 'postgres',
    })
  for (const version of versions) {
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    // Exit status 2: the cluster is already running.
    if (r.status !== 0 && r.status !== 2)
      throw new HarnessError(`pg_ctlcluster ${version} main start failed: ${r.stderr || r.stdout}`, {
        service: 'postgres',
      })
  }
}
