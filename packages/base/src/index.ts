export { createSystemClock, systemClock, type Clock, type ClockTimer, type SystemClockOptions } from './clock.js'
export { CodedError, defineErrors, isCodedError, type CodedErrorClass, type CodedErrorOptions, type ErrorTable } from './coded-error.js'
