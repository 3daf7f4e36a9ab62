/** `pnpm start`: the invoicing API on PORT (default 3000) for the seeded database. */

import { startApp } from './bootstrap.ts'
import { serviceAddresses } from './config.ts'

const { url, settings } = await startApp(serviceAddresses(), { port: Number(process.env.PORT || 3000) })
console.log(`invoicing API on ${url} (dataset ${settings.names.generation})`)
