import { defineConfig } from 'vitest/config'
import { tierProjects } from '../../vitest.shared.js'

export default defineConfig({ test: { projects: tierProjects('outbox', import.meta.dirname) } })
