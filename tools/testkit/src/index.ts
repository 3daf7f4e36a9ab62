export type { AuthProxy, AuthProxyOptions } from './auth-proxy.ts'
export { startAuthProxy } from './auth-proxy.ts'
export type { TestCertificates } from './certificates.ts'
export { makeTestCertificates } from './certificates.ts'
export { clusterAddresses, killNode, restartNode, skipNotice } from './cluster-node.ts'
export { freePort, freePorts } from './free-port.ts'
export { holdProcess } from './hold-process.ts'
export type { PrivateRedis, PrivateRedisOptions } from './private-redis.ts'
export { startPrivateRedis } from './private-redis.ts'
export type { RedisCluster, RedisClusterNode, RedisClusterOptions } from './redis-cluster.ts'
export { startRedisCluster } from './redis-cluster.ts'
export type {
  RedirectionCounts,
  ReshardOptions,
  ReshardResult,
  SlotMigration,
  SlotMigrationOptions,
} from './redis-reshard.ts'
export {
  clusterMasters,
  keySlot,
  openSlotMigration,
  redirectionCounts,
  reshardSlots,
  slotOwner,
} from './redis-reshard.ts'
export type { RedisSentinel, RedisSentinelAddress, RedisSentinelOptions } from './redis-sentinel.ts'
export { startRedisSentinel } from './redis-sentinel.ts'
export type { ServiceUrls } from './services.ts'
export { serviceUrls } from './services.ts'
export type { TcpProxy, TcpProxyMode, TcpProxyOptions } from './tcp-proxy.ts'
export { startTcpProxy } from './tcp-proxy.ts'
export { uniqueName } from './unique-name.ts'
