// Benchmark: slot planning speed and stability (guests moved per added/removed guest). Run `npm run build` first.
import { planSlots } from '../dist/schedule/index.js';

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(2024);
const address = () => `10.${(rand() * 256) | 0}.${(rand() * 256) | 0}.${1 + ((rand() * 254) | 0)}`;
function fleet(n) {
  const seen = new Set();
  while (seen.size < n) seen.add(address());
  return [...seen].map((a) => ({ host: `g-${a}`, address: a }));
}
const slotsOf = (plan) => new Map(plan.assignments.map((a) => [a.host, a.slot]));
const moved = (a, b) => [...a].filter(([h, s]) => b.has(h) && b.get(h) !== s).length;

const configs = [
  ['500 guests, 35 slots of 12 min, cap 15', 500, { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 }],
  ['500 guests, 60 slots, cap 100', 500, { job: 'nightly', window: '23:00-05:00', slotMinutes: 6, cap: 100 }],
  ['5000 guests, 420 slots of 1 min, cap 20', 5000, { job: 'nightly', window: '23:00-06:00', slotMinutes: 1, cap: 20 }],
];
for (const [name, n, opts] of configs) {
  const guests = fleet(n);
  const t0 = performance.now();
  const runs = 20;
  for (let i = 0; i < runs; i++) planSlots(guests, opts);
  const ms = (performance.now() - t0) / runs;
  let total = 0;
  let worst = 0;
  const trials = n > 1000 ? 20 : 200;
  for (let i = 0; i < trials; i++) {
    const g = fleet(n);
    const base = slotsOf(planSlots(g, opts));
    const extra = { host: 'new', address: address() };
    const add = moved(base, slotsOf(planSlots([...g, extra], opts)));
    const rm = moved(base, slotsOf(planSlots(g.slice(1), opts)));
    total += add + rm;
    worst = Math.max(worst, add, rm);
  }
  const plan = planSlots(guests, opts);
  console.log(
    `${name}: ${ms.toFixed(1)} ms/plan, peak ${plan.peak} (optimum ${plan.optimum}), ` +
      `moved per +/-1 guest: average ${(total / (2 * trials)).toFixed(2)}, worst ${worst} (${trials} fleets)`,
  );
}
