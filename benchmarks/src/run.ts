/**
 * Runs every scenario in `src/scenarios/` (or those named on the command line) one after another
 * in this process: `pnpm bench [scenario...]`.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = join(import.meta.dirname, 'scenarios')
const wanted = process.argv.slice(2)
const scenarios = readdirSync(dir)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
  .filter((name) => wanted.length === 0 || wanted.includes(name))

for (const name of scenarios) {
  const scenario = (await import(join(dir, `${name}.ts`))) as { run: () => Promise<void> }
  await scenario.run()
}
