/**
 * src/api owns the local HTTP API: routes, input errors as 4xx naming the field, SSE events,
 * health, readiness and the Prometheus endpoint.
 */
export {
  ApiServer,
  type ApiBackend,
  type ApiConnectionLimits,
  type ApiServerOptions,
  type IntentView,
} from './api-server.js';
export { intentView } from './intent-view.js';
export { SseHub } from './sse-hub.js';
export { type InboxBackend, INBOX_MAX_BATCH, INBOX_MAX_WAIT_MS } from './inbox-routes.js';
export type { FederationBackend } from './federation-routes.js';
