#!/bin/sh
# Stand-in for Prisma's schema engine binary. `prisma generate` only checks that an engine exists
# (and would download one at start, which this offline machine cannot); it never runs it to
# generate. Migrations are plain SQL under prisma/migrations, applied by src/database/migrate.ts.
echo "schema-engine stub: this project applies prisma/migrations/*.sql itself" >&2
exit 1
