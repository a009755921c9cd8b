// The cron load picture: well-formed XML, and its lines read back as the numbers drawn.
import { describe, expect, it } from 'vitest';
import { chooseScale, loadSvg } from '../../src/cli/commands/cron-svg.js';
import { readLoadSvg } from './svg-read.js';

const day = (f: (m: number) => number) => Array.from({ length: 1440 }, (_, m) => f(m));
const storm = day((m) => (m % 15 === 0 ? 300 : 0));
const stormQueue = day((m) => (m % 15 < 2 ? 259 - 100 * (m % 15) : 0));
const after = day((m) => (m >= 660 && m < 1080 && m % 12 === 0 ? 10 : 0));
const none = day(() => 0);

describe('loadSvg', () => {
  const svg = loadSvg({
    title: 'cron load <300 guests> & "the plan"',
    subtitle: 'host model: capacity 41',
    from: 720,
    tz: 'Europe/Berlin',
    cap: 15,
    runs: [
      { name: 'before', starts: storm, queue: stormQueue },
      { name: 'after', starts: after, queue: none },
    ],
  });

  it('is one well-formed, self-contained SVG document with its text escaped', () => {
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).not.toMatch(/href|<script|<image/);
    expect(svg).toContain('cron load &lt;300 guests&gt; &amp; &quot;the plan&quot;');
    expect(() => readLoadSvg(svg)).not.toThrow();
  });

  it('draws every minute of every run in both panels, read back exactly', () => {
    const panels = readLoadSvg(svg);
    expect(Object.keys(panels)).toEqual(['starts', 'queue']);
    expect(panels.starts!.lines).toEqual([storm, after]);
    expect(panels.queue!.lines).toEqual([stormQueue, none]);
  });

  it('puts the small "after" on a log axis next to a storm, and keeps a lone line linear', () => {
    const panels = readLoadSvg(svg);
    expect(panels.starts!.scale).toBe('log');
    expect(panels.starts!.texts[0]).toMatch(/\(log scale\)$/);
    expect(panels.queue!.scale).toBe('linear');
    expect(chooseScale([12, 3])).toBe('linear');
    expect(chooseScale([300, 10])).toBe('log');
    expect(chooseScale([300, 0])).toBe('linear');
  });

  it('draws the cap, the wall clock from the start of the 24 hours, the zone and the peaks', () => {
    const panels = readLoadSvg(svg);
    expect(panels.starts!.texts).toContain('cap 15 per slot');
    expect(panels.queue!.texts).not.toContain('cap 15 per slot');
    const clocks = panels.starts!.texts.filter((t) => /^\d\d:\d\d$/.test(t));
    expect(clocks[0]).toBe('12:00');
    expect(clocks).toContain('00:00');
    expect(clocks.at(-1)).toBe('12:00');
    expect(panels.starts!.texts).toContain('time of day (Europe/Berlin)');
    expect(svg).toContain('before: peak 300 starts in one minute, peak queue 259');
    expect(svg).toContain('after: peak 10 starts in one minute, peak queue 0');
  });
});
