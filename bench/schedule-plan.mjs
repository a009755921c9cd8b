// Benchmark: slot planning speed (median of several plans) and stability (guests moved when one guest
// is added or removed, over many random fleets), up to 100,000 guests. Run `npm run build` first.
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
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// [name, guests, options, timed plans, stability fleets]
const configs = [
  ['500 guests, 35 slots of 12 min, cap 15 (the field plan)', 500, { job: 'nightly', window: '23:00-06:00', slotMinutes: 12, cap: 15 }, 21, 200],
  ['500 guests, 60 slots of 6 min, cap 100', 500, { job: 'nightly', window: '23:00-05:00', slotMinutes: 6, cap: 100 }, 21, 200],
  ['5,000 guests, 420 slots of 1 min, cap 20', 5000, { job: 'nightly', window: '23:00-06:00', slotMinutes: 1, cap: 20 }, 11, 20],
  ['100,000 guests, 1,440 slots of 1 min, cap 80', 100000, { job: 'nightly', window: '00:00-00:00', slotMinutes: 1, cap: 80 }, 5, 5],
  ['100,000 guests, 420 slots of 1 min, cap 240 (99% full)', 100000, { job: 'nightly', window: '23:00-06:00', slotMinutes: 1, cap: 240 }, 5, 5],
];
const only = process.argv[2];
for (const [name, n, opts, runs, trials] of configs) {
  if (only && !name.includes(only)) continue;
  const guests = fleet(n);
  planSlots(guests, opts); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    planSlots(guests, opts);
    times.push(performance.now() - t0);
  }
  let total = 0;
  let worst = 0;
  for (let i = 0; i < trials; i++) {
    const g = fleet(n);
    const base = slotsOf(planSlots(g, opts));
    let extra = address();
    while (base.has(`g-${extra}`)) extra = address();
    const add = moved(base, slotsOf(planSlots([...g, { host: `g-${extra}`, address: extra }], opts)));
    const rm = moved(base, slotsOf(planSlots(g.slice(1), opts)));
    total += add + rm;
    worst = Math.max(worst, add, rm);
  }
  const plan = planSlots(guests, opts);
  console.log(
    `${name}: median ${median(times).toFixed(1)} ms/plan (${runs} plans), peak ${plan.peak} (optimum ${plan.optimum}), ` +
      `moved per +/-1 guest: average ${(total / (2 * trials)).toFixed(2)}, worst ${worst} (${trials} fleets)`,
  );
}
