/**
 * The inbox benchmark's raw baseline, run as its own process as the sidecar is: a nats.js durable
 * pull consumer configured as the inbox configures its own, read with `consume()` under the same
 * cap of unanswered deliveries, each message POSTed as it is stored to the agent with fetch() and
 * acked with a plain `ack()` once the agent answered 2xx. Nothing else: no dedupe record, no
 * verification, no confirmed ack. Prints `ready` once consuming; stops on SIGTERM or `maxSeconds`.
 *
 * Usage: node dist/bench/inbox-raw-consumer.js '<RawConsumerArgs as JSON>'
 */
import { AckPolicy, connect, DeliverPolicy, type JsMsg, nanos } from 'nats';

/** What the parent passes, as JSON in argv[2]. */
export interface RawConsumerArgs {
  natsUrl: string;
  stream: string;
  subject: string;
  durable: string;
  agentUrl: string;
  maxAckPending: number;
  deliverPolicy: 'all' | 'new';
  /** The process exits on its own after this long. */
  maxSeconds: number;
}

async function main(args: RawConsumerArgs): Promise<void> {
  const nc = await connect({ servers: args.natsUrl, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  // The inbox's defaults: ack wait 5 s, 5 deliveries (src/config/schema.ts, InboxSchema).
  await jsm.consumers.add(args.stream, {
    durable_name: args.durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(5_000),
    max_deliver: 5,
    max_ack_pending: args.maxAckPending,
    filter_subject: args.subject,
    deliver_policy: args.deliverPolicy === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
  });
  const consumer = await nc.jetstream().consumers.get(args.stream, args.durable);
  const msgs = await consumer.consume({ max_messages: Math.max(args.maxAckPending, 1), idle_heartbeat: 5_000 });
  const halt = (): void => void msgs.stop();
  process.once('SIGTERM', halt);
  const limit = setTimeout(halt, args.maxSeconds * 1_000);
  process.stdout.write('ready\n');
  const running = new Set<Promise<void>>();
  for await (const m of msgs) {
    const p = push(args.agentUrl, m).catch((err: unknown) => {
      process.stderr.write(`push failed: ${String(err)}\n`);
    });
    running.add(p);
    void p.finally(() => running.delete(p));
    while (running.size >= args.maxAckPending) await Promise.race(running);
  }
  await Promise.allSettled(running);
  clearTimeout(limit);
  await nc.drain();
}

async function push(url: string, m: JsMsg): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'net-sync-correlation-id': m.headers?.get('Net-Sync-Correlation-Id') ?? `${m.info.stream}:${m.seq}`,
      // The stream's time, as net-sync's push body carries it (ms), for the latency split.
      'x-published-at-ms': String(Math.floor(m.info.timestampNanos / 1e6)),
    },
    body: m.data,
  });
  await res.arrayBuffer();
  if (res.ok) m.ack();
  else m.nak();
}

main(JSON.parse(process.argv[2] ?? '{}') as RawConsumerArgs).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`raw consumer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
