/**
 * The agent beside the sidecar, as an HTTP endpoint: the inbox's push client.
 */
export { HttpAgentPusher, type HttpAgentPusherOptions } from './http-agent-pusher.js';
