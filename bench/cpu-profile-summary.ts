/**
 * Where a sidecar's CPU goes, from a `--cpu-prof` profile (`BENCH_CONSENSUS_PROFILE`, see
 * bench/consensus.ts): every sample is charged to the first frame on its stack, leaf upward, that
 * names a category (a package, a folder of ours, JSON, GC); native and Node-internal frames are
 * charged to their caller. Optionally only samples between `--from` and `--to` seconds after the
 * profile's start, and per intent with `--intents <n>` (intents the whole cluster took in that
 * window). Usage:
 *   node dist/bench/cpu-profile-summary.js <file.cpuprofile> [--from s] [--to s] [--intents n] [--top n]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  parent?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

// Packages grouped as the breakdown in docs/benchmarks.md names them.
const PACKAGES: Array<[RegExp, string]> = [
  [/@chainsafe\/libp2p-noise|@noble\/ciphers|@noble\/hashes|@chainsafe\/as-chacha20poly1305/, 'noise (encryption)'],
  [/@chainsafe\/libp2p-yamux/, 'yamux'],
  [/@libp2p\/gossipsub/, 'gossipsub'],
  [/@noble\/curves|@libp2p\/crypto/, 'signatures'],
  [/better-sqlite3/, 'sqlite'],
  [
    /protons-runtime|uint8arraylist|uint8arrays|it-[a-z-]+|@libp2p\/|libp2p\/|multiformats|@multiformats|p-queue|p-event|race-signal|main-event|abort-error|weald|progress-events|any-signal|@chainsafe\/netmask|@sindresorhus|delay|datastore|interface-datastore/,
    'libp2p (other)',
  ],
  [/\bnats\//, 'nats.js'],
  [/pino|thread-stream|sonic-boom/, 'logging'],
  [/prom-client/, 'metrics'],
  [/fastify|find-my-way|avvio|light-my-request|@fastify|undici/, 'http api'],
];

function categorise(f: CallFrame): string | null {
  const { functionName: fn, url } = f;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program)';
  if (fn === '(idle)') return '(idle)';
  if (fn === '(root)') return '(root)';
  if (url === '') {
    if (fn === 'parse' || fn === 'stringify') return 'JSON';
    if (fn === 'sign' || fn === 'verify' || fn === 'verifyOneShot' || fn === 'signOneShot') return 'signatures';
    return null;
  }
  if (url.includes('node:internal/crypto/sig') || url.includes('node:internal/crypto/keys')) return 'signatures';
  if (url.includes('node:internal/crypto/hash')) return 'hashing (node:crypto)';
  if (url.startsWith('node:')) return null;
  const ours = url.includes('node_modules') ? null : /dist\/src\/([^/]+)\//.exec(url);
  if (ours !== null) {
    if (ours[1] === 'buffer') return 'sqlite';
    if (url.includes('/runtime/ed25519-keys') || url.includes('/mesh/peer-signature')) return 'signatures';
    if (url.includes('/core/envelope-codec') || url.includes('/core/envelope-validation'))
      return 'ours: envelope codec/validation';
    return `ours: ${ours[1]}`;
  }
  for (const [re, cat] of PACKAGES) if (re.test(url)) return cat;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return pkg === null ? `other: ${url.slice(-40)}` : `pkg: ${pkg[1]}`;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args[0];
  if (file === undefined)
    throw new Error('usage: cpu-profile-summary <file.cpuprofile> [--from s] [--to s] [--intents n]');
  const opt = (name: string): number | undefined => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : Number(args[i + 1]);
  };
  const from = (opt('--from') ?? 0) * 1e6;
  const to = (opt('--to') ?? Number.POSITIVE_INFINITY) * 1e6;
  const intents = opt('--intents');
  const top = opt('--top') ?? 25;
  // `--callers <functionName>`: the stacks (5 frames with a URL above it) that spent that function's time.
  const callersOf = args.includes('--callers') ? args[args.indexOf('--callers') + 1] : undefined;
  const stacks = new Map<string, number>();
  // `--category <name>`: the top functions list shows that category's samples only.
  const onlyCat = args.includes('--category') ? args[args.indexOf('--category') + 1] : undefined;
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const n of p.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  const catOf = new Map<number, string>();
  const resolveCat = (id: number): string => {
    const known = catOf.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const own = categorise(n.callFrame);
    const cat =
      own ?? (n.parent === undefined ? `node: ${n.callFrame.url || n.callFrame.functionName}` : resolveCat(n.parent));
    catOf.set(id, cat);
    return cat;
  };
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    const id = p.samples[i]!;
    const cat = resolveCat(id);
    if (cat === '(idle)') continue;
    cats.set(cat, (cats.get(cat) ?? 0) + dt);
    total += dt;
    const f = byId.get(id)!.callFrame;
    if (onlyCat !== undefined && cat !== onlyCat) continue;
    const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*dist\//, '')}:${f.lineNumber}`;
    fns.set(key, (fns.get(key) ?? 0) + dt);
    if (callersOf !== undefined && f.functionName === callersOf) {
      const frames: string[] = [];
      for (let n = byId.get(id)!; n.parent !== undefined && frames.length < 6; n = byId.get(n.parent)!) {
        const c = n.callFrame;
        if (c.url === '' || c.url.startsWith('node:')) continue;
        frames.push(
          `${c.functionName || '(anon)'}@${c.url.replace(/.*node_modules\//, '').replace(/.*dist\//, '')}:${c.lineNumber}`,
        );
      }
      const k2 = frames.join(' < ');
      stacks.set(k2, (stacks.get(k2) ?? 0) + dt);
    }
  }
  const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7);
  const per = (us: number): string => (intents === undefined ? '' : (us / 1000 / intents).toFixed(3).padStart(8));
  console.log(
    `window ${(Math.min(t, to) - from) / 1e6} s, busy ${ms(total)} ms${intents ? `, ${intents} intents` : ''}`,
  );
  console.log(`${'category'.padEnd(36)} ${'ms'.padStart(7)} ${'%'.padStart(5)} ${intents ? 'ms/intent' : ''}`);
  for (const [cat, us] of [...cats].sort((a, b) => b[1] - a[1]))
    console.log(`${cat.padEnd(36)} ${ms(us)} ${((100 * us) / total).toFixed(1).padStart(5)} ${per(us)}`);
  console.log(`\ntop ${top} functions by self time`);
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${ms(us)} ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  if (callersOf !== undefined) {
    console.log(`\ncallers of ${callersOf}`);
    for (const [k, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${ms(us)}  ${k}`);
  }
}

main();
