/**
 * Writes the importable saved objects of the request-metrics dashboards:
 *
 * - `kibana.ndjson`: a data view and four Lens visualisations on one dashboard (Kibana 8.10+
 *   and 9.x: Stack Management -> Saved objects -> Import);
 * - `opensearch-dashboards.ndjson`: an index pattern and four aggregation-based visualisations on
 *   one dashboard (OpenSearch Dashboards 2.x: Dashboards Management -> Saved objects -> Import).
 *
 * Both show the same four panels over the ECS documents of `AyalaRequestMetricsSinkModule`
 * (`logs-ayala.requests-*`): request rate by route, p95 latency by route, slow requests by route,
 * cache hit ratio by route. The files are generated so that the two stay in step; a unit test
 * checks that the committed files equal this output, and an integration test runs each
 * visualisation's aggregation against both engines after real traffic.
 *
 * Run from `packages/nestjs`: `node dashboards/build.ts` (Node 22.18+ strips the types).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kibanaObjects } from './kibana.ts'
import { opensearchDashboardsObjects } from './opensearch-dashboards.ts'

export { kibanaObjects } from './kibana.ts'
export { OSD_FIELDS, opensearchDashboardsObjects } from './opensearch-dashboards.ts'
export { DASHBOARD_INDEX_PATTERN } from './panels.ts'

/** One saved object per line, as both UIs import and export them. */
export function toNdjson(objects: ReadonlyArray<Record<string, unknown>>): string {
  return `${objects.map((object) => JSON.stringify(object)).join('\n')}\n`
}

/** File name -> content of every shipped file. */
export function dashboardFiles(): Record<string, string> {
  return {
    'kibana.ndjson': toNdjson(kibanaObjects()),
    'opensearch-dashboards.ndjson': toNdjson(opensearchDashboardsObjects()),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, content] of Object.entries(dashboardFiles()))
    writeFileSync(join(import.meta.dirname, name), content)
}
