/**
 * What the pack-and-install test needs: every published package packed with `pnpm pack` (so the
 * manifest is the one pnpm writes, after the workspace's beforePacking hook), the manifest and the
 * file list read back from each tarball, and fixture apps installed from those tarballs with npm
 * in a temp dir, third-party dependencies from the registry.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const repoRoot = join(import.meta.dirname, '..', '..', '..', '..')
export const fixturesDir = join(import.meta.dirname, '..', '..', 'fixtures')

/** The repository the manifests and README links point at. */
export const CANONICAL_REPOSITORY = 'https://github.com/ayala/sdk'

export interface PackedPackage {
  /** The folder under packages/. */
  dir: string
  name: string
  version: string
  tarball: string
  /** The package.json inside the tarball. */
  manifest: Record<string, unknown> & { name: string; version: string }
  /** Paths inside the tarball, relative to `package/`. */
  files: string[]
  /** README.md as packed. */
  readme: string
}

/** Runs a command, throwing its whole output on failure so the test names what broke. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    })
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed: ${failure.message}\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`,
    )
  }
}

interface WorkspaceManifest {
  name: string
  version?: string
  private?: boolean
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T
}

/** Every workspace package: published ones under packages/, the rest private. */
export function workspacePackages(): { published: Map<string, string>; privateNames: string[] } {
  const published = new Map<string, string>()
  const privateNames: string[] = []
  const dirs = [join(repoRoot, 'benchmarks'), join(repoRoot, 'services')]
  for (const parent of ['packages', 'tools', 'examples']) {
    for (const name of readdirSync(join(repoRoot, parent))) dirs.push(join(repoRoot, parent, name))
  }
  for (const dir of dirs) {
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const manifest = readJson<WorkspaceManifest>(file)
    if (manifest.private) privateNames.push(manifest.name)
    else published.set(dir.split('/').at(-1) ?? dir, manifest.name)
  }
  return { published, privateNames }
}

/** `pnpm pack` of every published package into `destination`, read back from the tarballs. */
export function packAll(destination: string): PackedPackage[] {
  const { published } = workspacePackages()
  return [...published.keys()].map((dir) => {
    const cwd = join(repoRoot, 'packages', dir)
    const report = JSON.parse(run('pnpm', ['pack', '--json', '--pack-destination', destination], cwd)) as {
      name: string
      version: string
      filename: string
    }
    const files = run('tar', ['-tzf', report.filename], destination)
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => line.replace(/^package\//, ''))
    const manifest = JSON.parse(run('tar', ['-xzOf', report.filename, 'package/package.json'], destination))
    const readme = run('tar', ['-xzOf', report.filename, 'package/README.md'], destination)
    return {
      dir,
      name: report.name,
      version: report.version,
      tarball: report.filename,
      manifest,
      files,
      readme,
    }
  })
}

/** The version a workspace manifest pins for a third-party dependency, so fixtures match what we test. */
export function pinnedVersion(name: string): string {
  const root = readJson<WorkspaceManifest>(join(repoRoot, 'package.json'))
  const nest = readJson<WorkspaceManifest>(join(repoRoot, 'packages', 'nestjs', 'package.json'))
  const version = root.devDependencies?.[name] ?? nest.devDependencies?.[name]
  if (version === undefined) throw new Error(`no workspace manifest pins ${name}`)
  return version
}

/**
 * Copies fixtures/<fixture> to `<tmp>/<target>` with a package.json depending on the tarballs
 * (file: specifiers, as a local install of what npm would serve) and on `thirdParty` from the
 * registry, then `npm install`s it.
 */
export function installFixture(
  tmp: string,
  fixture: string,
  packed: PackedPackage[],
  thirdParty: Record<string, string>,
  target = fixture,
): string {
  const dir = join(tmp, target)
  cpSync(join(fixturesDir, fixture), dir, { recursive: true })
  const dependencies: Record<string, string> = { ...thirdParty }
  for (const pkg of packed) dependencies[pkg.name] = `file:${pkg.tarball}`
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `ayala-fixture-${target}`, private: true, version: '1.0.0', dependencies }, null, 2)}\n`,
  )
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir)
  return dir
}

/** Markdown link targets of a document (`[text](target)`), images included. */
export function markdownLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? '')
}
