// pnpm hooks for the whole workspace.
//
// beforePacking runs on the manifest `pnpm pack` and `pnpm publish` write into a tarball (the
// package.json on disk is left as it is). pnpm keeps devDependencies in a packed manifest, and ours
// name the private workspace packages (@ayala/internal, bundled at build time, and @ayala/testkit):
// an installer never reads devDependencies, but a published manifest must not point at packages
// that do not exist on the registry. So they are dropped, and a private package left anywhere else
// in the manifest stops the pack with its name.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = import.meta.dirname

/** The names of the workspace's private packages (tools/*, examples/*, benchmarks, services). */
function privatePackages() {
  const names = new Set()
  const manifests = ['benchmarks', 'services'].map((dir) => join(root, dir, 'package.json'))
  for (const parent of ['tools', 'examples']) {
    for (const dir of readdirSync(join(root, parent))) manifests.push(join(root, parent, dir, 'package.json'))
  }
  for (const file of manifests) {
    let manifest
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'))
    } catch (error) {
      if (error.code === 'ENOENT') continue
      throw error
    }
    if (manifest.private) names.add(manifest.name)
  }
  return names
}

export const hooks = {
  beforePacking(pkg) {
    delete pkg.devDependencies
    const hidden = privatePackages()
    for (const field of [
      'dependencies',
      'peerDependencies',
      'optionalDependencies',
      'peerDependenciesMeta',
    ]) {
      for (const name of Object.keys(pkg[field] ?? {})) {
        if (hidden.has(name)) {
          throw new Error(
            `${pkg.name}: ${field} names the private workspace package ${name}, which is never published`,
          )
        }
      }
    }
    return pkg
  },
}
