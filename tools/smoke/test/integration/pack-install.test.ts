/**
 * The packages as a user gets them from npm: every published package packed with `pnpm pack`,
 * each tarball's manifest and files checked (no private workspace package anywhere, LICENSE and
 * README shipped, README links absolute, a real repository, sibling peers on the real version),
 * then installed with npm into fresh fixture apps in a temp dir (third-party dependencies from the
 * registry), which are built and run against the real Redis at REDIS_URL:
 *
 * - fixtures/plain/esm.mjs: a plain ESM script importing every entry point;
 * - fixtures/plain/src: a CommonJS app compiled by tsc with `module: commonjs`,
 *   `moduleResolution: node10` and `declaration: true`, importing every subpath and exporting
 *   values whose types are inferred from ours (so the declaration emit must name them);
 * - fixtures/nest/src: a Nest app compiled by tsc with decorator metadata, AyalaCacheModule and a
 *   `@Cacheable` provider.
 *
 * Needs `pnpm build` first (scripts/test.sh builds before the tests).
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CANONICAL_REPOSITORY,
  installFixture,
  markdownLinks,
  type PackedPackage,
  packAll,
  pinnedVersion,
  repoRoot,
  run,
  workspacePackages,
} from '../helpers/packed.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const INSTALL_TIMEOUT = 600_000
const BUILD_TIMEOUT = 180_000

let tmp: string
let packed: PackedPackage[]

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ayala-pack-'))
  packed = packAll(join(tmp, 'tarballs'))
})

afterAll(() => {
  // AYALA_PACK_KEEP=1 keeps the tarballs and fixture apps for a look after a failure.
  if (tmp !== undefined && process.env.AYALA_PACK_KEEP !== '1') rmSync(tmp, { recursive: true, force: true })
  else console.log(`pack-install: kept ${tmp}`)
})

/** The changesets not yet released, as `{ package: bump }` per file. */
function pendingChangesets(): Record<string, string>[] {
  const dir = join(repoRoot, '.changeset')
  return run('ls', [dir], repoRoot)
    .split('\n')
    .filter((file) => file.endsWith('.md') && file !== 'README.md')
    .map((file) => {
      const frontmatter = readFileSync(join(dir, file), 'utf8').split('---')[1] ?? ''
      return Object.fromEntries(
        [...frontmatter.matchAll(/^\s*"([^"]+)":\s*(\w+)/gm)].map((match) => [
          match[1] ?? '',
          match[2] ?? '',
        ]),
      )
    })
}

describe('packed manifests', () => {
  it('packs every published package', () => {
    const { published } = workspacePackages()
    expect(packed.map((pkg) => pkg.name).sort()).toEqual([...published.values()].sort())
    expect(packed.length).toBeGreaterThanOrEqual(5)
  })

  it('names no private workspace package anywhere, devDependencies included', () => {
    const { privateNames } = workspacePackages()
    expect(privateNames).toContain('@ayala/testkit')
    expect(privateNames).toContain('@ayala/internal')
    for (const pkg of packed) {
      const text = JSON.stringify(pkg.manifest)
      for (const name of privateNames) expect(text, `${pkg.name} names ${name}`).not.toContain(`"${name}"`)
      expect(pkg.manifest.devDependencies, pkg.name).toBeUndefined()
    }
  })

  it('ships LICENSE (MIT, as the manifest says) and README', () => {
    for (const pkg of packed) {
      expect(pkg.files, pkg.name).toContain('LICENSE')
      expect(pkg.files, pkg.name).toContain('README.md')
      expect(pkg.manifest.license, pkg.name).toBe('MIT')
      const license = run('tar', ['-xzOf', pkg.tarball, 'package/LICENSE'], tmp)
      expect(license.split('\n')[0], pkg.name).toBe('MIT License')
    }
  })

  it('has README links that work from npm: absolute, and pointing at files of this repository', () => {
    for (const pkg of packed) {
      const links = markdownLinks(pkg.readme)
      expect(links.length, pkg.name).toBeGreaterThan(0)
      for (const link of links) {
        if (link.startsWith('#')) continue
        expect(link, `${pkg.name} README`).toMatch(/^https:\/\//)
        const own = link.match(new RegExp(`^${CANONICAL_REPOSITORY}/(?:blob|tree)/main/([^#?]+)`))
        if (link.startsWith(CANONICAL_REPOSITORY) && !link.startsWith(`${CANONICAL_REPOSITORY}/issues`)) {
          expect(own, `${pkg.name} README: ${link} is not a blob/main or tree/main link`).not.toBeNull()
          expect(existsSync(join(repoRoot, own?.[1] ?? '')), `${pkg.name} README: ${link}`).toBe(true)
        }
      }
    }
  })

  it('names the real repository, homepage and bugs', () => {
    for (const pkg of packed) {
      expect(pkg.manifest.repository, pkg.name).toEqual({
        type: 'git',
        url: `git+${CANONICAL_REPOSITORY}.git`,
        directory: `packages/${pkg.dir}`,
      })
      expect(pkg.manifest.homepage, pkg.name).toBe(
        `${CANONICAL_REPOSITORY}/tree/main/packages/${pkg.dir}#readme`,
      )
      expect(pkg.manifest.bugs, pkg.name).toEqual({ url: `${CANONICAL_REPOSITORY}/issues` })
    }
  })

  it('lists CHANGELOG.md, which changesets writes at the first version (every package has a pending changeset)', () => {
    const pending = pendingChangesets()
    for (const pkg of packed) {
      expect(pkg.manifest.files, pkg.name).toContain('CHANGELOG.md')
      if (pkg.version === '0.0.0') {
        // Never versioned: `changeset version` (which precedes every publish) writes CHANGELOG.md.
        expect(
          pending.some((changeset) => changeset[pkg.name] !== undefined && changeset[pkg.name] !== 'none'),
          `${pkg.name} has no pending changeset, so its first release would have no CHANGELOG`,
        ).toBe(true)
      } else {
        expect(pkg.files, pkg.name).toContain('CHANGELOG.md')
      }
    }
  })

  it('peers on its siblings with the range of their real version (workspace:^ resolved by pnpm)', () => {
    const versions = new Map(packed.map((pkg) => [pkg.name, pkg.version]))
    let siblings = 0
    for (const pkg of packed) {
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        const ranges = (pkg.manifest[field] ?? {}) as Record<string, string>
        for (const [name, range] of Object.entries(ranges)) {
          expect(range, `${pkg.name} ${field}.${name}`).not.toMatch(/^workspace:/)
          const version = versions.get(name)
          if (version === undefined) continue
          siblings++
          expect(range, `${pkg.name} ${field}.${name}`).toBe(`^${version}`)
        }
      }
    }
    expect(siblings).toBeGreaterThan(0)
  })

  it('maps every subpath export in typesVersions, for moduleResolution node10', () => {
    for (const pkg of packed) {
      const exports = pkg.manifest.exports as Record<string, { require?: { types?: string } }>
      const subpaths = Object.keys(exports).filter((key) => key !== '.' && key !== './package.json')
      const map =
        (pkg.manifest.typesVersions as Record<string, Record<string, string[]>> | undefined)?.['*'] ?? {}
      for (const subpath of subpaths) {
        const types = map[subpath.slice(2)]
        expect(types, `${pkg.name}: typesVersions for ${subpath}`).toEqual([exports[subpath]?.require?.types])
        expect(pkg.files, pkg.name).toContain((types?.[0] ?? '').replace(/^\.\//, ''))
      }
    }
  })
})

/**
 * The Nest majors @ayala/nestjs peers on, each installed into the Nest fixture in turn.
 * @nestjs/terminus starts at 11 (./health uses its HealthIndicatorService, new in 11), which
 * supports Nest 10 too.
 */
const NEST_MAJORS: Record<string, Record<string, string>> = {
  '10': { '@nestjs/common': '10.4.9', '@nestjs/core': '10.4.9', '@nestjs/terminus': '11.1.1' },
  '11': { '@nestjs/common': '11.2.10', '@nestjs/core': '11.2.10', '@nestjs/terminus': '11.1.1' },
  '12': Object.fromEntries(
    ['@nestjs/common', '@nestjs/core', '@nestjs/terminus'].map((name) => [name, pinnedVersion(name)]),
  ),
}

describe('fixture apps installed from the tarballs', () => {
  // One namespace per fixture: each fixture clears its own at the end.
  const runId = randomUUID().slice(0, 8)
  const env = (fixture: string) => ({ REDIS_URL, FIXTURE_NAMESPACE: `pack-${runId}-${fixture}` })
  const thirdParty = () => ({
    ...Object.fromEntries(
      [
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/terminus',
        'reflect-metadata',
        'rxjs',
        'ioredis',
        'prom-client',
        '@opentelemetry/api',
        'kafkajs',
        'typescript',
        '@types/node',
      ].map((name) => [name, pinnedVersion(name)]),
    ),
    // The optional peer of @elastic/elasticsearch whose types its own declarations import
    // (lib/helpers.d.ts): without it, skipLibCheck: false fails in the client, not in ours.
    'apache-arrow': '21.1.0',
  })

  describe('plain', () => {
    let plain: string
    beforeAll(() => {
      plain = installFixture(tmp, 'plain', packed, thirdParty())
    }, INSTALL_TIMEOUT)

    it(
      'runs a plain ESM script',
      () => {
        const output = JSON.parse(run(process.execPath, ['esm.mjs'], plain, env('esm')))
        expect(output).toMatchObject({
          fixture: 'esm',
          first: { index: 'invoices' },
          second: { index: 'invoices' },
        })
        expect(output.loads).toBe(1)
      },
      BUILD_TIMEOUT,
    )

    it(
      'builds a CommonJS app (module commonjs, moduleResolution node10, declaration true) and runs it',
      () => {
        run(process.execPath, [join(plain, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], plain)
        const declarations = readFileSync(join(plain, 'dist', 'api.d.ts'), 'utf8')
        expect(declarations).toContain('SearchResult')
        const output = JSON.parse(run(process.execPath, ['dist/main.js'], plain, env('cjs')))
        expect(output).toEqual({
          fixture: 'cjs',
          first: { module: 'object' },
          second: { module: 'object' },
          loads: 1,
        })
      },
      BUILD_TIMEOUT,
    )
  })

  describe.each(Object.keys(NEST_MAJORS))('Nest %s', (major) => {
    let nest: string
    beforeAll(() => {
      nest = installFixture(tmp, 'nest', packed, { ...thirdParty(), ...NEST_MAJORS[major] }, `nest-${major}`)
    }, INSTALL_TIMEOUT)

    it(
      'builds a Nest app with decorator metadata whose @Cacheable provider uses AyalaCacheModule and Redis',
      () => {
        const installed = JSON.parse(
          readFileSync(join(nest, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8'),
        )
        expect(installed.version.split('.')[0]).toBe(major)
        run(process.execPath, [join(nest, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], nest)
        const output = JSON.parse(run(process.execPath, ['dist/main.js'], nest, env(`nest-${major}`)))
        // One load for two reads in the first context (L1); none in the second, whose fresh L1
        // misses and whose cache finds the entry in Redis.
        expect(output).toEqual({
          fixture: 'nest',
          cold: { loads: 1, total: 24_200 },
          warm: { loads: 0, total: 24_200 },
        })
      },
      BUILD_TIMEOUT,
    )
  })
})
