/**
 * Config section `nats`: the servers, credentials, TLS and the reconnect and PubAck timings.
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';
import { natsUrl } from './fields.js';

/** Section `nats`. */
export const NatsSchema = z
  .object({
    /** Server URLs of one cluster. Default: the local server the demo and dev setups run. */
    servers: z.array(natsUrl).min(1).default(['nats://127.0.0.1:4222']),
    /** Connection name shown in the server's monitoring (`connz`). */
    name: z.string().default('net-sync'),
    /** User/password auth. */
    user: z.string().optional(),
    /** Secret: masked by `config print`. */
    pass: z.string().optional(),
    /** Token auth. Secret. */
    token: z.string().optional(),
    /** Path to an NKey seed file (`SU...`). */
    nkeySeedFile: z.string().optional(),
    /** Path to a `.creds` file (JWT + seed). */
    credsFile: z.string().optional(),
    /** TLS to the server. Enabled when any field is set or a URL uses tls://. */
    tls: z
      .object({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .default({}),
    /**
     * Base wait between reconnect attempts (our own loop, nats-connector.ts). 250 ms, not nats.js'
     * 2 s: the wait is the replay's head start after an outage (issue 15: first replayed commit
     * within 1 s of NATS returning), and a refused dial costs the server next to nothing.
     */
    reconnectWaitMs: zDurationMs.default(250),
    /** Jitter added to each reconnect wait, so a fleet does not reconnect in lockstep. */
    reconnectJitterMs: zDurationMs.default(250),
    /** PubAck wait. 5 s is nats.js' default and seed 000's ack budget (docs/seeds.md). */
    publishTimeoutMs: zDurationMs.default(5_000),
  })
  .strict();
