import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/index.js';
import { tokenize } from '../../src/inventory/lines.js';
import { InputError } from '../../src/core/errors.js';

const where = { file: 'hosts', line: 7 };

// Expected words are Python's shlex.split(line, comments=True), which Ansible's INI plugin uses for host lines.
describe('host line words as Ansible reads them', () => {
  it.each([
    ['web1 motd="say \\"hi\\""', ['web1', 'motd=say "hi"']],
    ['web1 path="C:\\\\temp"', ['web1', 'path=C:\\temp']],
    ['web1 path="a\\b" raw=\'a\\"b\'', ['web1', 'path=a\\b', 'raw=a\\"b']],
    ['web1 x=a#b', ['web1', 'x=a']],
    ['web1 x="a"#b', ['web1', 'x=a']],
    ['web1#rack2', ['web1']],
    ['web1 x=a\\#b y="#c"', ['web1', 'x=a#b', 'y=#c']],
    ['web1 x=1 ;y=2', ['web1', 'x=1', ';y=2']],
    ['web1\tx=1\ry=2', ['web1', 'x=1', 'y=2']],
    ['web1 x=""', ['web1', 'x=']],
  ])('%s', (line, words) => {
    expect(tokenize(line, where)).toEqual(words);
  });

  it('refuses an unterminated quote and a final backslash, saying where', () => {
    for (const [line, message] of [['web1 x="a\\"', /unterminated " quote/], ['web1 x=a\\', /nothing after the final backslash/]] as const) {
      let err: unknown;
      try {
        tokenize(line, where);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toMatch(message);
      expect([(err as InputError).file, (err as InputError).line]).toEqual(['hosts', 7]);
    }
  });
});

describe('INI inventories with quotes and comments inside host lines', () => {
  it('reads an escaped quote in a value and a comment glued to a word, as Ansible does', () => {
    const inv = parseInventory(
      '[db]\ndb1 ansible_ssh_common_args="-o ProxyCommand=\\"ssh -W %h:%p ops@bastion\\"" rack=r2#spare\n',
      'inv',
    );
    expect(inv.hosts.get('db1')!.vars).toEqual({ ansible_ssh_common_args: '-o ProxyCommand="ssh -W %h:%p ops@bastion"', rack: 'r2' });
  });

  it('refuses a `;` word that is not key=value, as Ansible does, and keeps `;` comment lines', () => {
    expect(() => parseInventory('[g]\n; a comment\nweb1 x=1 ;not a comment\n', 'inv')).toThrow(/inv:3: bad variable ';not'/);
  });

  it('keeps the vars sections\' own comment rule: `;` or `#` starting a word, not inside one', () => {
    const inv = parseInventory('[g]\nh\n[g:vars]\nntp = pool ; primary\ncolor = a#b\nmotd = "say \\"hi\\"" # greeting\n', 'inv');
    expect(inv.hosts.get('h')!.vars).toEqual({ ntp: 'pool', color: 'a#b', motd: 'say "hi"' });
  });
});
