/**
 * Kills and restarts one node of the harness's clusters (`node services/cli.mjs up --cluster`)
 * through the harness's CLI: `kill <node>` sends SIGKILL to the node's process group and waits
 * until it is gone; `up --cluster <node>` starts it again and waits until it answers and its
 * cluster has every member. Both bounded.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
// tools/testkit/src -> the repository root
const cli = join(import.meta.dirname, '..', '..', '..', 'services', 'cli.mjs')

async function harness(args: string[], timeout: number): Promise<string> {
  const { stdout } = await run(process.execPath, [cli, ...args], { timeout, killSignal: 'SIGKILL' })
  return stdout
}

/** SIGKILL, no shutdown hook: the node vanishes as on a power loss (its data stays). */
export const killNode = (node: string): Promise<string> => harness(['kill', node], 30_000)

/** Starts the node again; resolves once it answers and its cluster has all its members. */
export const restartNode = (node: string): Promise<string> => harness(['up', '--cluster', node], 240_000)

/** Why a cluster test is skipped, printed once per file. */
export function skipNotice(variable: string, what: string): void {
  console.warn(
    `[cluster] ${what}: skipped, ${variable} is not set (start the clusters with \`node services/cli.mjs up --cluster\`, then \`. .services/env\`)`,
  )
}

/**
 * The addresses a cluster variable lists (comma-separated, e.g. `KAFKA_CLUSTER_BROKERS`); when it
 * is empty, prints the skip notice once and returns `[]` (the test file then skips itself).
 */
export function clusterAddresses(variable: string, what: string): string[] {
  const addresses = (process.env[variable] ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean)
  if (addresses.length === 0) skipNotice(variable, what)
  return addresses
}
