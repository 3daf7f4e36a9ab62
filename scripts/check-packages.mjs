// publint --strict and `attw --pack` (every resolution, node10 included: typesVersions maps the
// subpaths) on every published package (packages/*), one after another,
// failing on the first package that does not pass. Run after the build.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
let failed = 0
for (const dir of readdirSync(join(root, 'packages'))) {
  const cwd = join(root, 'packages', dir)
  const { name, private: isPrivate } = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'))
  if (isPrivate) continue
  for (const [bin, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '.', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync('pnpm', ['exec', bin, ...args], { cwd, stdio: 'pipe' })
      console.log(`ok   ${name}: ${bin}`)
    } catch (error) {
      failed++
      console.error(`FAIL ${name}: ${bin}\n${error.stdout ?? ''}${error.stderr ?? ''}`)
    }
  }
}
process.exit(failed === 0 ? 0 : 1)
