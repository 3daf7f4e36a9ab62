import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DASHBOARD_INDEX_PATTERN, dashboardFiles, OSD_FIELDS } from '../../../dashboards/build.js'
import { REQUEST_METRICS_MAPPINGS } from '../../../src/search/index.js'
import { readSavedObjects } from '../../helpers/saved-objects.js'

const folder = join(import.meta.dirname, '../../../dashboards')

describe('dashboards/*.ndjson', () => {
  it.each(Object.entries(dashboardFiles()))('%s is what dashboards/build.ts writes', (name, content) => {
    // Regenerate with `node dashboards/build.ts` after changing the panels.
    expect(readFileSync(join(folder, name), 'utf8')).toBe(content)
  })

  it.each(['kibana.ndjson', 'opensearch-dashboards.ndjson'])(
    '%s: unique ids, every reference resolves, every panel is a visualisation of the file',
    (name) => {
      const objects = readSavedObjects(join(folder, name))
      const ids = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]))
      expect(ids.size).toBe(objects.length)
      expect(objects.map((o) => o.type)).toEqual(
        name === 'kibana.ndjson'
          ? ['index-pattern', 'lens', 'lens', 'lens', 'lens', 'dashboard']
          : [
              'index-pattern',
              'visualization',
              'visualization',
              'visualization',
              'visualization',
              'dashboard',
            ],
      )
      for (const object of objects)
        for (const reference of object.references)
          expect(ids.has(`${reference.type}:${reference.id}`), `${object.id} -> ${reference.id}`).toBe(true)
      const dashboard = objects.find((o) => o.type === 'dashboard') as (typeof objects)[number]
      const panels = JSON.parse(dashboard.attributes.panelsJSON as string) as Array<{
        panelRefName: string
        panelIndex: string
      }>
      expect(panels).toHaveLength(4)
      const referenced = panels.map((panel) => {
        const refName =
          name === 'kibana.ndjson' ? `${panel.panelIndex}:${panel.panelRefName}` : panel.panelRefName
        return dashboard.references.find((r) => r.name === refName)?.id
      })
      expect(new Set(referenced)).toEqual(
        new Set(objects.filter((o) => o.type === 'lens' || o.type === 'visualization').map((o) => o.id)),
      )
      // Every filter's index reference names a reference of its object.
      let filterRefs = 0
      for (const object of objects) {
        const text = JSON.stringify(object.attributes)
        for (const [, refName] of text.matchAll(/indexRefName\\?":\\?"([^"\\]+)/g)) {
          filterRefs++
          expect(
            object.references.map((r) => r.name),
            `${object.id}: ${refName}`,
          ).toContain(refName)
        }
      }
      // The slow and hit-ratio panels' filters (and, in OpenSearch Dashboards, each search source).
      expect(filterRefs).toBe(name === 'kibana.ndjson' ? 2 : 6)
      const dataView = objects[0] as (typeof objects)[number]
      expect(dataView.attributes.title).toBe(DASHBOARD_INDEX_PATTERN)
    },
  )

  it('lists in the OpenSearch index pattern exactly the mapped fields', () => {
    const mapped: string[] = []
    const walk = (properties: Record<string, { properties?: unknown }>, prefix: string) => {
      for (const [name, value] of Object.entries(properties)) {
        if (value.properties) walk(value.properties as never, `${prefix}${name}.`)
        else mapped.push(`${prefix}${name}`)
      }
    }
    walk(REQUEST_METRICS_MAPPINGS.properties as never, '')
    expect(OSD_FIELDS.map(([name]) => name).sort()).toEqual(mapped.sort())
  })
})
