/**
 * The ILM policy the sink installs, parsed and validated by Elasticsearch's own code. The
 * harness's Elasticsearch has no ILM (it is built from Maven Central's jars, and the ILM plugin
 * is not among them), so no engine here applies the policy; but Maven Central does carry
 * `x-pack-core`, which holds the REST body parser (`PutLifecycleRequest`) and the validation
 * (`LifecyclePolicy.validate`: the timeseries phases, the actions each phase allows, their
 * parameters) that `PUT _ilm/policy/<name>` runs. A small Java program runs them on the exact
 * body the sink sends, on the harness's Elasticsearch classpath plus that jar (fetched into
 * ~/.m2 by Maven the first time). ISM has no such artefact on Maven Central: its body is checked
 * against the documentation only (unit test).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveRequestMetricsSinkOptions } from '../../../src/search/index.js'
import { ilmPutBody } from '../../../src/search/request-metrics-data-stream.js'

const repo = join(import.meta.dirname, '../../../../..')
const esVersion = /<elasticsearch\.version>([^<]+)</.exec(
  readFileSync(join(repo, 'services/pom.xml'), 'utf8'),
)?.[1]
const classpathFile = join(repo, 'services/target/elasticsearch/classpath.txt')

/** A JDK 21+ (Elasticsearch 9's class files), as the harness picks one. */
function jdk21(): string {
  const homes = [process.env.SERVICES_JAVA21_HOME, process.env.JAVA_HOME]
  try {
    homes.push(...readdirSync('/usr/lib/jvm').map((d) => join('/usr/lib/jvm', d)))
  } catch {
    // no /usr/lib/jvm: the variables only
  }
  for (const home of homes) {
    if (home === undefined || !existsSync(join(home, 'bin', 'javac'))) continue
    const release = existsSync(join(home, 'release')) ? readFileSync(join(home, 'release'), 'utf8') : ''
    const major = Number(/JAVA_VERSION="(\d+)/.exec(release)?.[1] ?? 0)
    if (major >= 21) return home
  }
  throw new Error('no JDK 21+ (set SERVICES_JAVA21_HOME): Elasticsearch 9 jars need one')
}

describe('the ILM policy body, through Elasticsearch x-pack-core parser and validation', () => {
  let java: string
  let classpath: string
  let work: string

  beforeAll(async () => {
    if (esVersion === undefined) throw new Error('no elasticsearch.version in services/pom.xml')
    // The harness's Maven build of its Elasticsearch module (skipped when fresh): `up` builds it
    // only when it starts Elasticsearch itself, not when it finds one already running.
    const maven = (await import(join(repo, 'services', 'lib', 'jdk-maven.mjs'))) as {
      build(names: string[]): Promise<unknown>
    }
    await maven.build(['elasticsearch'])
    if (!existsSync(classpathFile)) throw new Error(`${classpathFile} missing after the harness's build`)
    const jar = join(
      homedir(),
      `.m2/repository/org/elasticsearch/plugin/x-pack-core/${esVersion}/x-pack-core-${esVersion}.jar`,
    )
    if (!existsSync(jar)) {
      execFileSync(
        'mvn',
        [
          '-q',
          '-B',
          'dependency:get',
          `-Dartifact=org.elasticsearch.plugin:x-pack-core:${esVersion}`,
          '-Dtransitive=false',
        ],
        { stdio: 'inherit', timeout: 180_000 },
      )
    }
    const home = jdk21()
    java = join(home, 'bin', 'java')
    classpath = `${jar}:${readFileSync(classpathFile, 'utf8').trim()}`
    work = mkdtempSync(join(tmpdir(), 'ilm-check-'))
    execFileSync(
      join(home, 'bin', 'javac'),
      ['-cp', classpath, '-d', work, join(import.meta.dirname, '../../helpers/java/IlmPolicyCheck.java')],
      { stdio: 'inherit', timeout: 120_000 },
    )
  }, 600_000)

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  /** One JVM for every body: `{ ok, text }` per body (the parsed policy, or the error). */
  const check = (bodies: unknown[]) => {
    const result = spawnSync(
      java,
      ['-cp', `${work}:${classpath}`, 'IlmPolicyCheck', 'ayala-logs-ayala.requests-default'],
      {
        input: `${bodies.map((body) => JSON.stringify(body)).join('\n')}\n`,
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    expect(result.status, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(bodies.length)
    return lines.map((line) => ({ ok: line.startsWith('ok '), text: line.slice(line.indexOf(' ') + 1) }))
  }

  it('accepts the bodies the sink sends and refuses broken ones (so a pass means something)', () => {
    const specs = [
      {},
      { retention: '7d', rollover: { maxAge: '12h', maxPrimaryShardSize: '5gb' } },
      { retention: '90m', rollover: { maxAge: '1h' } },
    ].map((options) => resolveRequestMetricsSinkOptions(options as never).spec as RetainedSpec)
    const bodies = specs.map((spec) => ilmPutBody(spec))
    const sized = structuredClone(bodies[0]) as ReturnType<typeof ilmPutBody>
    sized.policy.phases.hot.actions.rollover.max_primary_shard_size = 'fifty'
    const misplaced = structuredClone(bodies[0]) as unknown as { policy: { phases: Record<string, unknown> } }
    misplaced.policy.phases.hot = { min_age: '0ms', actions: { delete: {} } }

    const [first, second, third, badSize, badPhase] = check([...bodies, sized, misplaced])
    for (const [i, result] of [first, second, third].entries()) {
      expect(result?.ok, result?.text).toBe(true)
      // The policy as Elasticsearch parsed it: both phases, the retention, our _meta.
      const parsed = JSON.parse(result?.text ?? '') as {
        phases: Record<string, { min_age: string; actions: Record<string, unknown> }>
        _meta: unknown
      }
      expect(Object.keys(parsed.phases).sort()).toEqual(['delete', 'hot'])
      expect(parsed.phases.delete?.min_age).toBe(bodies[i]?.policy.phases.delete.min_age)
      expect(Object.keys(parsed.phases.hot?.actions ?? {})).toEqual(['rollover'])
      expect(parsed._meta).toEqual(bodies[i]?.policy._meta)
    }
    expect(badSize?.ok).toBe(false)
    expect(badSize?.text).toContain('failed to parse')
    expect(badPhase?.ok).toBe(false)
    expect(badPhase?.text).toContain('invalid action [delete] defined in phase [hot]')
  })
})

type RetainedSpec = ReturnType<typeof resolveRequestMetricsSinkOptions>['spec'] & { retentionMs: number }
