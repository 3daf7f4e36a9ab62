export type { OutboxModuleAsyncOptions, OutboxModuleConfig, OutboxModuleOptions } from './outbox.module.js'
export { AyalaOutboxModule } from './outbox.module.js'
export { AYALA_OUTBOX, AYALA_OUTBOX_RELAY, InjectOutbox, InjectOutboxRelay } from './tokens.js'
