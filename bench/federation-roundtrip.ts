/**
 * (h) Federation round trip (issue 20), open loop: event `i` is due at `t0 + i / rate` and its
 * latency runs from then to the moment its receipt is applied at ORG, whatever the earlier ones
 * did (bench/open-loop.ts). Ours: `POST /v1/federation/events` on ORG's sidecar → signed,
 * committed to FEDERATION → sourced to acme's ACME_FED through the leaf (and its proxy) → acme's
 * sidecar verifies, records, receipts, pushes → the receipt sourced back → applied by ORG's
 * sidecar, seen by polling `GET /v1/federation/events/:id` (every 2 ms, started when the receipt
 * lands in FEDERATION, so the poll costs a request or two per event). Raw: `js.publish` on the
 * same events subject → sourced to acme → a nats.js client there (an ordered consumer) publishes
 * an ack on the acks subject → sourced back → seen by an ordered consumer on ORG's side.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { headers as natsHeaders } from 'nats';
import { quantile } from './common.js';
import { ACKS, EVENTS, type FederationLink, type Kind, now, type Seen } from './federation-link.js';
import { type OpenLoopFigures, openLoop } from './open-loop.js';

/** p50 / p99 of one hop, in ms. */
export interface Hop {
  hop: string;
  p50Ms: number;
  p99Ms: number;
  n: number;
}

/** One open-loop run and where its time went. */
export interface RoundTrip {
  path: 'net-sync' | 'raw';
  loop: OpenLoopFigures;
  hops: Hop[];
  /** Sends that did not get a 202 (ours) or a PubAck (raw), by HTTP status or error. */
  refusals: Record<string, number>;
}

/** A raw envelope's size, about ours (a signed DSSE event of a 200-byte payload). */
const RAW_BODY = new TextEncoder().encode(JSON.stringify({ raw: 'x'.repeat(860) }));

/** Makes acme's observer the raw client: it acks each raw event by publishing on the acks subject. */
export function installRawAcker(link: FederationLink): void {
  const js = link.acmeNc.jetstream();
  const body = new TextEncoder().encode('{"ack":"raw"}');
  link.partner.on = (kind: Kind, id: string) => {
    if (kind !== 'raw') return;
    const h = natsHeaders();
    h.set('Nats-Msg-Id', `rawack-${id}`);
    js.publish(ACKS, body, { headers: h }).catch(() => undefined); // a lost ack shows as lost
  };
}

/** Publishes raw event `id` on ORG's side; resolves on its PubAck. */
export async function publishRaw(link: FederationLink, id: string): Promise<void> {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', `raw-${id}`);
  await link.hubNc.jetstream().publish(EVENTS, RAW_BODY, { headers: h });
}

function hops(ids: readonly string[], points: Array<[string, (id: string) => number | undefined]>): Hop[] {
  const out: Hop[] = [];
  for (let k = 1; k < points.length; k++) {
    const [, from] = points[k - 1]!;
    const [name, to] = points[k]!;
    const d: number[] = [];
    for (const id of ids) {
      const a = from(id);
      const b = to(id);
      if (a !== undefined && b !== undefined) d.push(b - a);
    }
    out.push({ hop: `${points[k - 1]![0]} → ${name}`, p50Ms: quantile(d, 0.5), p99Ms: quantile(d, 0.99), n: d.length });
  }
  return out;
}

const stored = (m: Map<string, Seen>) => (id: string) => m.get(id)?.storedMs;

/** The raw round trip: `rate`/s for `seconds`, each ID tagged `tag`. */
export async function rawRoundTrip(
  link: FederationLink,
  rate: number,
  seconds: number,
  tag: string,
): Promise<RoundTrip> {
  const scheduled = new Map<string, number>();
  const refusals: Record<string, number> = {};
  const loop = await openLoop({
    rate,
    seconds,
    send: async (i) => {
      const id = `${tag}-${i}`;
      scheduled.set(id, now());
      try {
        await publishRaw(link, id);
      } catch (err) {
        refusals[String(err)] = (refusals[String(err)] ?? 0) + 1;
        return undefined;
      }
      return id;
    },
    receivedAt: (id) => link.hub.seen.rawack.get(id)?.seenMs,
    storedAt: (id) => link.hub.seen.raw.get(id)?.storedMs,
    duplicates: () => 0,
    settleMs: 30_000,
  });
  await link.settleObservers();
  const ids = [...scheduled.keys()];
  const hub = link.hub.seen;
  const acme = link.partner.seen;
  return {
    path: 'raw',
    loop,
    refusals,
    hops: hops(ids, [
      ['published', (id) => scheduled.get(id)],
      ['stored at ORG', stored(hub.raw)],
      ['stored at acme', stored(acme.raw)],
      ['read by the raw client', (id) => acme.raw.get(id)?.seenMs],
      ['ack stored at acme', stored(acme.rawack)],
      ['ack stored at ORG', stored(hub.rawack)],
      ['ack read at ORG', (id) => hub.rawack.get(id)?.seenMs],
    ]),
  };
}

/** Polls ORG's sidecar until `id` is acked or rejected; notes when it first answered so. */
async function pollApplied(link: FederationLink, id: string, appliedAt: Map<string, number>): Promise<void> {
  const deadline = now() + 30_000;
  for (let i = 0; now() < deadline; i++) {
    const doc = await link.org?.get(`/v1/federation/events/${id}`);
    const state = doc?.['state'];
    if (state === 'acked' || state === 'rejected') {
      appliedAt.set(id, now());
      return;
    }
    await sleep(i < 50 ? 2 : 10);
  }
}

/** Our round trip at `rate`/s for `seconds`; the sidecars are running. */
export async function ourRoundTrip(link: FederationLink, rate: number, seconds: number): Promise<RoundTrip> {
  const org = link.org;
  if (org === undefined) throw new Error('bench: (h) needs the sidecars');
  const scheduled = new Map<string, number>();
  const accepted = new Map<string, number>();
  const appliedAt = new Map<string, number>();
  const refusals: Record<string, number> = {};
  const refuse = (why: string): undefined => {
    refusals[why] = (refusals[why] ?? 0) + 1;
    return undefined;
  };
  const polls: Promise<void>[] = [];
  link.hub.on = (kind, id) => {
    if (kind === 'ack') polls.push(pollApplied(link, id, appliedAt));
  };
  try {
    const loop = await openLoop({
      rate,
      seconds,
      send: async (i) => {
        const at = now();
        let res: Response;
        let json: { eventId?: string };
        try {
          res = await fetch(`${org.url}/v1/federation/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ partner: 'acme', type: 'bench.roundtrip', payload: { i, pad: 'x'.repeat(200) } }),
            signal: AbortSignal.timeout(30_000),
          });
          json = (await res.json()) as { eventId?: string };
        } catch (err) {
          // fetch() fails with a TypeError whose cause names the socket error.
          const cause = (err as { cause?: { code?: string } }).cause?.code;
          return refuse(err instanceof Error ? `${err.name}${cause === undefined ? '' : ` ${cause}`}` : String(err));
        }
        if (res.status !== 202 || json.eventId === undefined) return refuse(`HTTP ${res.status}`);
        scheduled.set(json.eventId, at);
        accepted.set(json.eventId, now());
        return json.eventId;
      },
      receivedAt: (id) => appliedAt.get(id),
      storedAt: (id) => link.hub.seen.event.get(id)?.storedMs,
      duplicates: () => 0,
      settleMs: 60_000,
    });
    await Promise.all(polls);
    await link.settleObservers();
    const ids = [...scheduled.keys()];
    const hub = link.hub.seen;
    const acme = link.partner.seen;
    return {
      path: 'net-sync',
      loop,
      refusals,
      hops: hops(ids, [
        ['POST sent', (id) => scheduled.get(id)],
        ['202', (id) => accepted.get(id)],
        ['stored at ORG', stored(hub.event)],
        ['stored at acme', stored(acme.event)],
        ['receipt stored at acme', stored(acme.ack)],
        ['receipt stored at ORG', stored(hub.ack)],
        ['applied at ORG', (id) => appliedAt.get(id)],
      ]).concat(
        hops(ids, [
          ['stored at acme', stored(acme.event)],
          ['pushed to the agent', (id) => link.agent.pushedAt.get(id)],
        ]),
      ),
    };
  } finally {
    link.hub.on = undefined;
  }
}
