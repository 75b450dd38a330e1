/**
 * Pull mode's deliveries handed to the agent and not yet answered, by delivery ID. One lives
 * for the ack wait from hand-out (or from the agent's last `working`); after that JetStream
 * redelivers it, and its ID answers 404.
 */
import { randomBytes } from 'node:crypto';
import type { InboxCommand, InboxDelivery } from '../core/inbox.js';

/** One item of `GET /v1/inbox`. */
export type PulledCommand = InboxCommand & { deliveryId: string };

interface Entry {
  delivery: InboxDelivery;
  timer: NodeJS.Timeout;
}

/** The agent's open deliveries. */
export class PullDeliveries {
  private readonly open = new Map<string, Entry>();

  constructor(
    private readonly ackWaitMs: number,
    private readonly onExpired: (delivery: InboxDelivery) => void,
  ) {}

  /** Registers a delivery handed to the agent. */
  add(delivery: InboxDelivery, command: InboxCommand): PulledCommand {
    const deliveryId = randomBytes(12).toString('base64url');
    this.open.set(deliveryId, { delivery, timer: this.expiry(deliveryId) });
    return { deliveryId, ...command };
  }

  /** Removes and returns an open delivery (the agent answered it). */
  take(deliveryId: string): InboxDelivery | undefined {
    const e = this.open.get(deliveryId);
    if (e === undefined) return undefined;
    clearTimeout(e.timer);
    this.open.delete(deliveryId);
    return e.delivery;
  }

  /** The agent is still working: restarts JetStream's ack wait and ours. */
  touch(deliveryId: string): boolean {
    const e = this.open.get(deliveryId);
    if (e === undefined) return false;
    e.delivery.working();
    clearTimeout(e.timer);
    e.timer = this.expiry(deliveryId);
    return true;
  }

  /** Forgets every open delivery (stop): JetStream redelivers them. */
  clear(): void {
    for (const e of this.open.values()) clearTimeout(e.timer);
    this.open.clear();
  }

  private expiry(deliveryId: string): NodeJS.Timeout {
    return setTimeout(() => {
      const e = this.open.get(deliveryId);
      if (e === undefined) return;
      this.open.delete(deliveryId);
      this.onExpired(e.delivery);
    }, this.ackWaitMs).unref();
  }
}
