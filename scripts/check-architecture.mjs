// The shape rules of the repository (issue 15), checked rather than hoped for:
//   1. no hand-written source file over MAX_LINES lines (generated code excluded);
//   2. no import circle inside a package's `src/` (relative imports, type-only ones included: a
//      type circle is still a design circle, and the next value import closes it).
// Prints every violation and exits 1 when there is one. Dependency-free; run after `pnpm install`
// or before, from the repository root: `node scripts/check-architecture.mjs`.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = join(import.meta.dirname, '..')
const MAX_LINES = Number(process.env.ARCH_MAX_LINES ?? 500)
const SOURCE = /\.(ts|mts|cts|mjs|js)$/
const SKIP_DIRS = new Set(['node_modules', 'dist', 'generated', 'target', '.tools', '.services', 'results'])

/** Every source file below `dir`. */
function sources(dir) {
  const out = []
  let entries
  try {
    entries = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of entries) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue
    const path = join(dir, name)
    const stat = statSync(path)
    if (stat.isDirectory()) out.push(...sources(path))
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** The source roots whose files count: each package's src, the tools, the harness, the benchmarks. */
function roots() {
  const list = []
  for (const parent of ['packages', 'tools', 'examples']) {
    for (const name of readdirSync(join(root, parent))) list.push(join(root, parent, name, 'src'))
  }
  list.push(join(root, 'benchmarks', 'src'), join(root, 'services'))
  return list
}

const violations = []

// 1. File sizes.
for (const dir of roots()) {
  for (const file of sources(dir)) {
    if (file.includes(`${join('services', 'test')}`)) continue
    const lines = readFileSync(file, 'utf8').split('\n').length
    if (lines > MAX_LINES) violations.push(`${relative(root, file)}: ${lines} lines (over ${MAX_LINES})`)
  }
}

// 2. Import circles per package src.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g
function resolveImport(from, specifier) {
  const base = resolve(dirname(from), specifier)
  for (const candidate of [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not this candidate
    }
  }
  return undefined
}
for (const parent of ['packages', 'tools']) {
  for (const name of readdirSync(join(root, parent))) {
    const src = join(root, parent, name, 'src')
    const files = sources(src).filter((f) => f.endsWith('.ts'))
    const graph = new Map()
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      const targets = new Set()
      for (const match of text.matchAll(IMPORT)) {
        const target = resolveImport(file, match[1])
        if (target !== undefined) targets.add(target)
      }
      graph.set(file, targets)
    }
    // Tarjan's strongly connected components: a component of more than one file is a circle.
    let index = 0
    const stack = []
    const onStack = new Set()
    const indices = new Map()
    const low = new Map()
    const visit = (node) => {
      indices.set(node, index)
      low.set(node, index)
      index++
      stack.push(node)
      onStack.add(node)
      for (const next of graph.get(node) ?? []) {
        if (!indices.has(next)) {
          visit(next)
          low.set(node, Math.min(low.get(node), low.get(next)))
        } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indices.get(next)))
      }
      if (low.get(node) === indices.get(node)) {
        const component = []
        let member
        do {
          member = stack.pop()
          onStack.delete(member)
          component.push(member)
        } while (member !== node)
        if (component.length > 1 || (graph.get(node) ?? new Set()).has(node)) {
          violations.push(
            `${parent}/${name}: import circle: ${component
              .map((f) => relative(src, f))
              .sort()
              .join(' <-> ')}`,
          )
        }
      }
    }
    for (const file of files) if (!indices.has(file)) visit(file)
  }
}

if (violations.length === 0) {
  console.log(`architecture: no source file over ${MAX_LINES} lines, no import circle`)
} else {
  console.error(`architecture: ${violations.length} violation(s)`)
  for (const violation of violations) console.error(`  ${violation}`)
  process.exit(1)
}
