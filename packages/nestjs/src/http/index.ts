export { AyalaErrorFilter } from './ayala-error.filter.js'
export type { AyalaHttpAnswer } from './error-to-http.js'
export { ayalaErrorToHttp, sdkErrorCode } from './error-to-http.js'
