// A/B of two builds in one process: the bench's own (a), (b″), (c), (d) and (w) from build A and
// build B, interleaved (A then B, then B then A), with the process CPU per message, which a loaded
// machine distorts less than the rates. Usage (both trees built with `npx tsc -p tsconfig.json`):
//   AB_A=/path/to/before/dist AB_B=/path/to/after/dist REPS=3 SCALE=0.2 \
//     node --import ./dist/src/polyfills.js scripts/bench-ab.mjs
// Prints the medians and writes every sample to bench/results/ab-<time>.json.
import { loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
const A = `${process.env.AB_A}/bench`,
  B = `${process.env.AB_B}/bench`;
if (!process.env.AB_A || !process.env.AB_B) throw new Error('set AB_A and AB_B to two built dist/ folders');
const reps = Number(process.env.REPS ?? 3),
  scale = Number(process.env.SCALE ?? 0.3);
const parts = (process.env.PARTS ?? 'a,b2,c,d').split(',');
const [common, baseA, netA, netB, floorA, floorB, probeA, probeB] = await Promise.all([
  import(`${B}/common.js`),
  import(`${B}/baselines.js`),
  import(`${A}/netsync.js`),
  import(`${B}/netsync.js`),
  import(`${A}/outbox-floor.js`),
  import(`${B}/outbox-floor.js`),
  import(`${A}/worker-probe.js`),
  import(`${B}/worker-probe.js`),
]);
const F = common.FULL_SIZES,
  n = (x) => Math.max(1000, Math.round(x * scale));
const sizes = {
  ...F,
  warmup: n(F.warmup),
  natsJs: n(F.natsJs),
  netsync: n(F.netsync),
  replay: n(F.replay),
  http: n(F.http),
};
const out = { scale, reps, load: [], samples: {}, cpu: {} };
const push = (k, s, cpu) => {
  out.samples[k] = [...(out.samples[k] ?? []), s.rate];
  out.cpu[k] = [...(out.cpu[k] ?? []), cpu];
  console.error(`${k}: ${Math.round(s.rate)}/s cpu ${cpu.toFixed(1)} us/msg load ${loadavg()[0].toFixed(1)}`);
};
const timed = async (k, count, fn) => {
  const c0 = process.cpuUsage();
  const s = await fn();
  const c = process.cpuUsage(c0);
  push(k, s, (c.user + c.system) / (count + sizes.warmup));
};
for (let r = 0; r < reps; r++) {
  out.load.push(loadavg());
  const order =
    r % 2 === 0
      ? [
          ['A', netA, floorA, probeA],
          ['B', netB, floorB, probeB],
        ]
      : [
          ['B', netB, floorB, probeB],
          ['A', netA, floorA, probeA],
        ];
  if (parts.includes('a')) await timed('a', sizes.natsJs, () => baseA.measureNatsJs(sizes));
  for (const [name, net, floor, probe] of order) {
    if (parts.includes('b2'))
      await timed(`b2 ${name}`, sizes.netsync, () => common.withTempDir((d) => floor.measureOutboxFloor(sizes, d)));
    if (parts.includes('c')) await timed(`c ${name}`, sizes.netsync, () => net.measureLibrary(sizes));
    if (parts.includes('d')) await timed(`d ${name}`, sizes.replay, () => net.measureReplay(sizes));
    if (parts.includes('w')) await timed(`w ${name}`, sizes.netsync, () => probe.measureWorkerProbe(sizes));
  }
  if (parts.includes('a')) await timed('a', sizes.natsJs, () => baseA.measureNatsJs(sizes));
}
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
const summary = Object.fromEntries(Object.entries(out.samples).map(([k, v]) => [k, Math.round(med(v))]));
out.summary = summary;
out.cpuSummary = Object.fromEntries(Object.entries(out.cpu).map(([k, v]) => [k, Number(med(v).toFixed(1))]));
console.log(JSON.stringify(out.cpuSummary));
out.loadEnd = loadavg();
console.log(JSON.stringify(summary));
writeFileSync(
  `bench/results/ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  JSON.stringify({ ...out, a: A, b: B }, null, 1),
);
process.exit(0);
