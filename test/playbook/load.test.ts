// Playbook parsing and validation: every problem reported with file:line:column, hints for typos.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { formatIssue, parsePlaybook } from '../../src/playbook/index.js';

const issuesOf = (text: string, file = 'pb.yaml') => parsePlaybook(text, file).issues.map(formatIssue);

describe('parsePlaybook', () => {
  it('accepts a playbook and fills the defaults', () => {
    const r = parsePlaybook('name: demo\nvars:\n  port: 8080\nsteps:\n  - run: echo {{ port }}\n    retries: 2\n  - name: conf\n    push: {content: "x", dest: /tmp/x, mode: "0600"}\n', 'pb.yaml');
    expect(r.issues).toEqual([]);
    const pb = r.playbook!;
    expect(pb.vars).toEqual({ port: '8080' });
    expect(pb.steps.map((s) => [s.name, s.retries, s.delayMs, s.sudo])).toEqual([['run: echo {{ port }}', 2, 1000, false], ['conf', 0, 1000, false]]);
    expect(pb.steps[1]!.action).toMatchObject({ kind: 'push', mode: 0o600, backup: false });
  });

  it('names the line and column of an unknown key, with the nearest valid one', () => {
    expect(issuesOf('steps:\n  - run: true\n    retry: 3\n')).toEqual(["pb.yaml:3:5: unknown key 'retry' (did you mean 'retries'?)"]);
    expect(issuesOf('stesp:\n  - run: true\n')).toContain("pb.yaml:1:1: unknown key 'stesp' (did you mean 'steps'?)");
    expect(issuesOf('steps:\n  - push: {content: a, dest: /x, mdoe: "0644"}\n')).toEqual(["pb.yaml:2:34: unknown key 'mdoe' (did you mean 'mode'?)"]);
  });

  it('reports wrong types where the value is', () => {
    expect(issuesOf('steps:\n  - run: true\n    retries: three\n')).toEqual(['pb.yaml:3:14: retries must be a whole number']);
    expect(issuesOf('steps:\n  - push: {content: a, dest: /x, mode: 0644}\n')[0]).toMatch(/^pb\.yaml:2:40: mode must be quoted octal/);
    expect(issuesOf('steps: {run: true}\n')).toEqual(['pb.yaml:1:8: steps must be a list of steps']);
  });

  it('refuses a step with two actions, naming the second', () => {
    expect(issuesOf('steps:\n  - run: echo hi\n    push: {content: a, dest: /tmp/y}\n')).toEqual(['pb.yaml:3:5: a step has one action, this one has run and push (make them two steps)']);
  });

  it('lists every problem of the file in one go', () => {
    const text = ['steps:', '  - run: true', '    retry: 3', '  - name: restart', '    run: x', '    if-changed: conf', '  - template: {dest: /tmp/z}', '  - cron: {}', ''].join('\n');
    expect(issuesOf(text)).toEqual([
      "pb.yaml:3:5: unknown key 'retry' (did you mean 'retries'?)",
      "pb.yaml:6:17: if-changed: no earlier step is named 'conf'",
      'pb.yaml:7:15: template needs src (a local file) or content',
      'pb.yaml:8:5: name the job: job NAME command CMD, or replace-run-crons',
    ]);
  });

  it('if-changed must name an earlier step, with a hint', () => {
    const text = 'steps:\n  - name: conf\n    run: a\n  - run: b\n    if-changed: cnof\n  - run: c\n    if-changed: later\n  - name: later\n    run: d\n';
    expect(issuesOf(text)).toEqual([
      "pb.yaml:5:17: if-changed: no earlier step is named 'cnof' (did you mean 'conf'?)",
      "pb.yaml:7:17: if-changed: 'later' is a later step (step 4); it must name an earlier one",
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(issuesOf('steps:\n  - run: "unterminated\n')).toEqual(['pb.yaml:3:1: Missing closing "quote']);
  });

  it('reads script and src files relative to the playbook, and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-pb-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'fix.sh'), 'echo fixed\n');
    writeFileSync(join(dir, 'app.conf.tmpl'), 'name={{ host }}\n');
    const ok = parsePlaybook('steps:\n  - script: fix.sh\n  - template: {src: app.conf.tmpl, dest: /etc/app.conf}\n', join(dir, 'pb.yaml'));
    expect(ok.issues).toEqual([]);
    expect(ok.playbook!.steps[0]!.action).toMatchObject({ kind: 'script', data: Buffer.from('echo fixed\n') });
    expect(ok.playbook!.steps[1]!.action).toMatchObject({ kind: 'template', content: { value: 'name={{ host }}\n' } });
    const bad = parsePlaybook('steps:\n  - script: nope.sh\n', join(dir, 'pb.yaml')).issues.map(formatIssue);
    expect(bad).toEqual([`${join(dir, 'pb.yaml')}:2:13: no such file: ${join(dir, 'nope.sh')}`]);
  });
});
