import { defineConfig } from 'vitest/config'
import { tierProjects } from '../vitest.shared.js'

export default defineConfig({ test: { projects: tierProjects('benchmarks', import.meta.dirname) } })
