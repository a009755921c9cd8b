// Host key checking turned off on the guests themselves: `StrictHostKeyChecking no` (or `off`,
// `accept-new`) in the system ssh_config, its drop-ins, or any account's ~/.ssh/config. A guest that
// ssh-es onwards with checking off trusts whatever answers, the door the field warned about.
import type { Finding, GuestFacts } from './model.js';

type Guest = { host: string; facts: GuestFacts };

/** Whether a path is an ssh client config the audit command read. */
export function isSshClientConfig(path: string): boolean {
  return path === '/etc/ssh/ssh_config' || path.startsWith('/etc/ssh/ssh_config.d/') || path.endsWith('/.ssh/config');
}

/** Each line weakening host key checking: its number and the value as written (lower case). */
export function weakChecking(text: string): { line: number; value: string }[] {
  const out: { line: number; value: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const m = /^\s*StrictHostKeyChecking(?:\s*=\s*|\s+)"?([A-Za-z-]+)"?/i.exec(raw);
    const value = m?.[1]!.toLowerCase();
    if (value === 'no' || value === 'off' || value === 'accept-new') out.push({ line: i + 1, value });
  });
  return out;
}

/** One finding per file and value, the lines named when guests agree on them. */
export function strictCheckingFindings(guests: readonly Guest[]): Finding[] {
  const groups = new Map<string, { path: string; value: string; lines: Set<number>; hosts: string[] }>();
  for (const g of guests) {
    for (const [path, text] of g.facts.files) {
      if (!isSshClientConfig(path)) continue;
      for (const w of weakChecking(text)) {
        const key = `${path}\0${w.value === 'off' ? 'no' : w.value}`;
        const e = groups.get(key) ?? { path, value: w.value === 'off' ? 'no' : w.value, lines: new Set(), hosts: [] };
        e.lines.add(w.line);
        if (!e.hosts.includes(g.host)) e.hosts.push(g.host);
        groups.set(key, e);
      }
    }
  }
  return [...groups.values()].map((e) => {
    const lines = [...e.lines].sort((a, b) => a - b);
    return {
      check: 'strict-host-key-checking', severity: e.value === 'no' ? 'high' : 'medium', hosts: e.hosts,
      data: { file: e.path, value: e.value, lines },
      title: `StrictHostKeyChecking ${e.value} in ${e.path}:${lines.join(',')}: ssh from the guest ${e.value === 'no' ? 'trusts any host key' : 'trusts any key of a host it has not seen'}`,
      remedy: `delete the line (fleet run --sudo -- sed -i '/^[[:space:]]*StrictHostKeyChecking/Id' ${e.path}) and pin keys ahead in /etc/ssh/ssh_known_hosts`,
      details: [],
    };
  });
}
