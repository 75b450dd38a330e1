/**
 * The demo's last step, the loop back in: an intent proposed on the first sidecar is committed
 * once, and the last sidecar's inbox pushes it to the agent beside it, which answers SUCCESS.
 */
import type { DemoAgent } from './demo-agent.js';
import type { DemoSidecar } from './demo-cluster.js';

/** The subject of the loop's intent; the inbox takes only this one, so the earlier intents stay out. */
export const LOOP_SUBJECT = 'root.solar.command.agent.notify';

/** What the loop step showed. */
export interface DemoLoop {
  correlationId: string;
  subject: string;
  /** The sidecar the intent was proposed on. */
  proposedOn: string;
  /** The sidecar whose inbox pushed it to the agent. */
  deliveredBy: string;
  /** Where the stream stored it (as delivered). */
  streamSeq: number;
  /** Pushes the agent received for it (1: delivered once). */
  deliveries: number;
  /** Whether the inbox checked its endorsements before the push. */
  verified: boolean;
  /** What the agent answered. */
  answer: 'SUCCESS';
  /** From the proposal to the inbox's confirmed ack. */
  seconds: number;
}

/** Index of the sidecar that runs the inbox: the last one (the first proposes). */
export function loopInboxIndex(count: number): number {
  return count - 1;
}

/** Env that gives sidecar `i` the loop's inbox, pushing to `agentUrl` (for `startDemoCluster`'s `extraEnv`). */
export function loopInboxEnv(count: number, agentUrl: string): (i: number) => Record<string, string> {
  const env: Record<string, string> = { NET_SYNC_INBOX_SUBJECTS: LOOP_SUBJECT, NET_SYNC_INBOX_PUSH_URL: agentUrl };
  return (i) => (i === loopInboxIndex(count) ? env : {});
}

interface InboxStatus {
  inbox?: { results: Record<string, number>; consumers: Array<{ lag: number }> };
}

/** Proposes the loop's intent and waits until the agent applied it and the inbox's ack is confirmed. */
export async function runLoopStep(
  sidecars: DemoSidecar[],
  agent: DemoAgent,
  waitUntil: (cond: () => Promise<boolean>, what: string, timeoutMs: number) => Promise<void>,
): Promise<DemoLoop> {
  const origin = sidecars[0]!;
  const inbox = sidecars[loopInboxIndex(sidecars.length)]!;
  const started = Date.now();
  const res = await fetch(`http://${origin.api}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: LOOP_SUBJECT, payload: { note: 'hello from the demo', from: origin.name } }),
  });
  if (res.status !== 202)
    throw new Error(`${origin.name} refused the loop intent: HTTP ${res.status} ${await res.text()}`);
  const id = ((await res.json()) as { correlationId: string }).correlationId;
  await waitUntil(async () => agent.deliveriesOf(id).length > 0, `the agent to receive intent ${id}`, 60_000);
  // Acked and confirmed: nothing left for the consumer, so no second push can come.
  await waitUntil(
    async () => {
      const s = (await (await fetch(`http://${inbox.api}/v1/status`)).json()) as InboxStatus;
      const consumers = s.inbox?.consumers ?? [];
      return (s.inbox?.results['ack'] ?? 0) >= 1 && consumers.length > 0 && consumers.every((c) => c.lag === 0);
    },
    `${inbox.name}'s inbox to confirm the ack of ${id}`,
    30_000,
  );
  const seconds = (Date.now() - started) / 1000;
  const got = agent.deliveriesOf(id);
  return {
    correlationId: id,
    subject: LOOP_SUBJECT,
    proposedOn: origin.name,
    deliveredBy: inbox.name,
    streamSeq: got[0]!.streamSeq,
    deliveries: got.length,
    verified: got.every((d) => d.verified),
    answer: 'SUCCESS',
    seconds,
  };
}

/** The step's one line. */
export function loopLine(loop: DemoLoop): string {
  const pushes = loop.deliveries === 1 ? 'once' : `${loop.deliveries} times`;
  return (
    `phase 4: intent ${loop.correlationId} proposed on ${loop.proposedOn}, committed at COMMANDS#${loop.streamSeq}, ` +
    `pushed ${pushes} by ${loop.deliveredBy}'s inbox to the agent beside it, which answered SUCCESS ` +
    `(${loop.seconds.toFixed(2)} s end to end)`
  );
}
