import { defineConfig } from 'vitest/config'
import { tierProjects } from '../../vitest.shared.js'

export default defineConfig({ test: { projects: tierProjects('internal', import.meta.dirname) } })
