/**
 * Separate hosts for one chaos run: a Linux bridge in the root namespace and, per host, a
 * network namespace joined to it by a veth pair, all on one private /24 the run picks. Setting
 * a host's bridge-side veth down cuts it off at the kernel level (NATS and the mesh at once, no
 * RST, no FIN: the shape of a real link failure, which a userspace proxy cannot give, because
 * the proxy closes or holds sockets itself). Needs root (CAP_NET_ADMIN) and iproute2; see
 * {@link netnsUnavailable}. Everything made here is deleted by `dispose()`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One host: its namespace, the bridge-side end of its link, and its address. */
export interface NetnsHost {
  ns: string;
  veth: string;
  addr: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Why namespaces cannot be used here (not root, no `ip`, creation refused), or null. Scenarios
 * that need them report this reason as a skip; they never pass silently.
 */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN)';
  const probe = `nsprobe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    return `cannot create a network namespace: ${(err as { stderr?: string }).stderr ?? String(err)}`.trim();
  }
  try {
    ip('netns', 'del', probe);
  } catch {
    // best effort
  }
  return null;
}

/** A bridge and `n` namespaces on it. */
export class NetnsLab {
  readonly hosts: NetnsHost[] = [];
  /** The root namespace's address on the bridge (where a nats-server for the hosts listens). */
  readonly bridgeAddr: string;
  private readonly id: string;
  private readonly bridge: string;
  private disposed = false;

  private constructor(private readonly subnet: string) {
    this.id = randomBytes(2).toString('hex');
    this.bridge = `nsbr${this.id}`;
    this.bridgeAddr = `${subnet}.1`;
  }

  /** Creates the bridge and `n` hosts (`<subnet>.2` …); deletes what it made if a step fails. */
  static create(n: number): NetnsLab {
    // 10.213.x.0/24: private, and chosen per run so that two labs never share a subnet.
    const lab = new NetnsLab(`10.213.${1 + (randomBytes(1)[0]! % 250)}`);
    try {
      ip('link', 'add', lab.bridge, 'type', 'bridge');
      ip('addr', 'add', `${lab.bridgeAddr}/24`, 'dev', lab.bridge);
      ip('link', 'set', lab.bridge, 'up');
      for (let i = 0; i < n; i++) {
        const h: NetnsHost = { ns: `ns${lab.id}h${i}`, veth: `v${lab.id}h${i}`, addr: `${lab.subnet}.${i + 2}` };
        const inner = `v${lab.id}n${i}`;
        ip('netns', 'add', h.ns);
        lab.hosts.push(h);
        ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', inner);
        ip('link', 'set', inner, 'netns', h.ns);
        ip('link', 'set', h.veth, 'master', lab.bridge);
        ip('link', 'set', h.veth, 'up');
        ip('-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', inner);
        ip('-n', h.ns, 'link', 'set', inner, 'up');
        ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      }
    } catch (err) {
      lab.dispose();
      throw err;
    }
    return lab;
  }

  /** The command prefix that runs a program in host `i` (`ip netns exec` execs: the PID is the program's). */
  wrap(i: number): string[] {
    return ['ip', 'netns', 'exec', this.hosts[i]!.ns];
  }

  /** Cuts host `i` off from everything (its link down at the bridge). */
  cut(i: number): void {
    ip('link', 'set', this.hosts[i]!.veth, 'down');
  }

  /** Puts host `i` back. */
  heal(i: number): void {
    ip('link', 'set', this.hosts[i]!.veth, 'up');
  }

  /** Deletes the namespaces (their veth ends go with them) and the bridge. Safe twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const h of this.hosts) {
      try {
        ip('netns', 'del', h.ns);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', this.bridge);
    } catch {
      // already gone
    }
  }
}
