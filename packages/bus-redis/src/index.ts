export type {
  BusMessage,
  BusMessageHandler,
  BusMessageKind,
  BusResyncEvent,
  BusStatus,
  ReceivedBusMessage,
  RelayBus,
  RelayBusEvents
} from './types.js'
export { BusError, isBusError } from './errors.js'
export type { BusErrorCode } from './errors.js'
export { MemoryBus, MemoryBusHub } from './memory-bus.js'
export { DEFAULT_REDIS_BUS_OPTIONS, RedisBus, openRedisBus, redactRedisUrl, splitPrefixParam } from './redis-bus.js'
export type { RedisBusOptions } from './redis-bus.js'
