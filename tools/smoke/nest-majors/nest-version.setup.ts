/**
 * Before every file of a Nest-major project: the `@nestjs/*` packages the tests and the source
 * import are the fixture's, of the project's major, and there is one copy of each (the fixture's
 * `@nestjs/core` resolves the same `@nestjs/common` the tests get). Otherwise the file fails here
 * instead of passing on the workspace's Nest 12.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import * as common from '@nestjs/common'
import commonPackage from '@nestjs/common/package.json' with { type: 'json' }
import core from '@nestjs/core/package.json' with { type: 'json' }
import express from '@nestjs/platform-express/package.json' with { type: 'json' }
import testing from '@nestjs/testing/package.json' with { type: 'json' }

const major = process.env.NEST_MAJOR ?? ''
const fixture = process.env.NEST_FIXTURE ?? ''
for (const pkg of [commonPackage, core, testing, express]) {
  if (pkg.version.split('.')[0] !== major) {
    throw new Error(
      `${pkg.name} ${pkg.version} loaded in the Nest ${major} project (the alias did not apply)`,
    )
  }
}
const fromCore = createRequire(join(fixture, 'node_modules', '@nestjs', 'core', 'index.js'))('@nestjs/common')
if (fromCore.Injectable !== common.Injectable) {
  throw new Error(`two copies of @nestjs/common in the Nest ${major} project (the tests' and @nestjs/core's)`)
}
