/**
 * Config section `api`: the local HTTP API's address, token, host allow-list and limits.
 */
import { z } from 'zod';
import { zBytes, zDurationMs } from '../../core/units.js';
import { hostPort, positiveMs } from './fields.js';

/** Section `api`. */
export const ApiSchema = z
  .object({
    /** Loopback by default: the API is for the local agent only. */
    listen: hostPort.default('127.0.0.1:7654'),
    /** Optional bearer token required on every route but /healthz. Secret. */
    token: z.string().optional(),
    /**
     * Host names (or host:port) the API answers besides loopback and the listen address. Without a
     * token, a request naming any other Host, or carrying a foreign Origin, gets 403: a web page
     * whose name resolves to 127.0.0.1 (DNS rebinding) cannot post intents.
     */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Largest agent payload accepted (JSON bytes). 64 KiB keeps one intent in one gossip frame. */
    maxPayloadBytes: zBytes.default(65_536),
    /** Period of the status samples (page charts, recent lag): 5 s keeps 10 min in 120 samples. */
    statusSampleMs: zDurationMs.default(5_000),
    /**
     * Time a client has to send a request's headers, from its connection. An agent on loopback
     * needs well under a millisecond; 10 s still serves one on a loaded host, and cuts off a
     * client that connects and sends nothing, or trickles its headers (slowloris).
     */
    headersTimeoutMs: positiveMs('a timeout').default(10_000),
    /** Time to send a whole request, body included: 30 s carries the largest body at ~10 KiB/s. */
    requestTimeoutMs: positiveMs('a timeout').default(30_000),
    /** An idle keep-alive connection closes after this: 5 s (Node's default) spans an agent's bursts. */
    keepAliveTimeoutMs: positiveMs('a timeout').default(5_000),
    /**
     * Open API connections at once, SSE streams and inbox long polls included; past it a new one is
     * closed unanswered. A local agent needs a handful; 256 keeps a flood well under the usual
     * limit of 1,024 open files, which SQLite, NATS and the mesh share.
     */
    maxConnections: z.number().int().positive().default(256),
    /**
     * Most intents in one batch `POST /v1/intents` (a JSON array); more is 413 naming this key. 1,000 is
     * one group-commit transaction (`buffer.groupCommitMaxRows`' default), about 35 ms of work here.
     */
    maxBatchItems: z.number().int().positive().max(100_000).default(1_000),
    /**
     * Largest batch body in bytes; larger is 413 naming this key. A batch is parsed and validated in one
     * event-loop turn: 4 MiB (about 40 ms) keeps other requests waiting no longer than a group commit.
     */
    maxBatchBytes: zBytes.default(4 * 1_024 * 1_024),
  })
  .strict()
  .refine((a) => a.headersTimeoutMs <= a.requestTimeoutMs, {
    message: 'must be at most api.requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });
