// What running a command over SSH means, as one suite run against every engine (the emulator and a
// real OpenSSH sshd): output streams, exit codes and signals, stdin, the command text, environment.
// Engine-specific behaviour (identity, sandbox, a closed channel's fate) is tested beside each engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientChannel } from 'ssh2';
import type { SshSession } from './ssh-client.js';

export interface ExecEngine {
  /** Opens a fresh authenticated, pinned session. */
  connect(): Promise<SshSession>;
}

export interface ExecCapabilities {
  /**
   * Honours the client's `signal` channel request. OpenSSH does only for sessions under privilege
   * separation, so not for root logins ("session signalling requires privilege separation").
   */
  signalRequests: boolean;
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error('timed out waiting for output');
  }
}

/** Runs a command on a 33x101 xterm-256color pty; `drive` may talk to it while it runs. */
function withPty(
  session: SshSession,
  command: string,
  drive?: (channel: ClientChannel, output: () => string) => Promise<void>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    session.client.exec(command, { pty: { rows: 33, cols: 101, term: 'xterm-256color' } }, (err, channel) => {
      if (err) return reject(err);
      let output = '';
      let code: number | null = null;
      const timer = setTimeout(() => reject(new Error(`'${command}' did not finish`)), 15_000);
      channel.on('data', (d: Buffer) => (output += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (output += d.toString()));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => {
        clearTimeout(timer);
        resolve({ code, output });
      });
      drive?.(channel, () => output).catch(reject);
    });
  });
}

function firstOutput(channel: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => channel.once('data', (d: Buffer) => resolve(d.toString())));
}

export function describeExecContract(engine: string, getEngine: () => ExecEngine, caps: ExecCapabilities): void {
  describe(`exec contract: ${engine}`, () => {
    let session: SshSession | undefined;
    const S = () => session!;
    beforeAll(async () => {
      session = await getEngine().connect();
    });
    afterAll(() => session?.close());

    it('keeps stdout and stderr apart', async () => {
      const r = await S().exec('echo out; echo err >&2; echo out2');
      expect(r).toMatchObject({ code: 0, signal: null, stdout: 'out\nout2\n', stderr: 'err\n' });
    });

    it('reports exit codes', async () => {
      expect(await S().exec('exit 7')).toMatchObject({ code: 7, signal: null });
      expect((await S().exec('false')).code).toBe(1);
      expect((await S().exec('true')).code).toBe(0);
      const missing = await S().exec('no-such-command-here');
      expect(missing.code).toBe(127);
      expect(missing.stderr).toMatch(/not found/);
    });

    it('passes stdin through, then EOF', async () => {
      expect(await S().exec('cat', { stdin: 'hello\nworld\n' })).toMatchObject({ code: 0, stdout: 'hello\nworld\n' });
      expect((await S().exec('cat')).stdout).toBe(''); // EOF at once: cat ends
      const big = 'x'.repeat(1024 * 1024);
      expect((await S().exec('wc -c', { stdin: big })).stdout.trim()).toBe(String(big.length));
    });

    it('gives the command pipes as stdin, stdout and stderr, and no other open descriptor', async () => {
      // OpenSSH's sshd on Linux hands a session without a pty three pipes; `cat /dev/stdin` depends on it
      // (a socket cannot be reopened through /proc/self/fd).
      const r = await S().exec('for n in 0 1 2; do stat -L -c "$n %F" /proc/self/fd/$n; done; ls /proc/self/fd | sort -n | tr "\\n" " "; cat /dev/stdin', { stdin: 'via /dev/stdin\n' });
      expect(r.stderr).toBe('');
      // `ls` itself holds one more descriptor: the directory it lists.
      expect(r.stdout).toBe('0 fifo\n1 fifo\n2 fifo\n0 1 2 3 via /dev/stdin\n');
    });

    it('delivers large output whole', async () => {
      const r = await S().exec('head -c 5000000 /dev/zero | tr "\\0" a');
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(5_000_000);
    });

    it('receives the command exactly as typed: quotes, $, backslashes, tabs, newlines', async () => {
      const command = [
        `v='a value'; printf '[%s]\\n' 'single $v' "double \\$v" "$v" 'it'"'"'s'`,
        'echo "second line"',
        `printf '%s\\n' "tab	here" 'back\\slash'`,
      ].join('\n');
      const r = await S().exec(command);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`[single $v]\n[double $v]\n[a value]\n[it's]\nsecond line\ntab\there\nback\\slash\n`);
    });

    // ssh2's client prefixes the wire name (TERM) with SIG: 'SIGSIGTERM' would mean a wrong wire name.
    it('reports the signal that killed the command', async () => {
      expect(await S().exec('kill -TERM $$')).toMatchObject({ code: null, signal: 'SIGTERM' });
      expect(await S().exec('kill -KILL $$')).toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(await S().exec('kill -HUP $$')).toMatchObject({ code: null, signal: 'SIGHUP' });
    });

    if (caps.signalRequests) it('delivers a signal the client sends to the running command', async () => {
      const channel = await S().start('echo started; exec sleep 20');
      const exit = new Promise<[number | null, string | undefined]>((resolve) => channel.on('exit', (c: number | null, s?: string) => resolve([c, s])));
      channel.stderr.resume();
      expect(await firstOutput(channel)).toBe('started\n');
      channel.signal('INT');
      const t0 = Date.now();
      expect(await exit).toEqual([null, 'SIGINT']);
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('accepts LANG and LC_* from the client and nothing else (AcceptEnv LANG LC_*)', async () => {
      const r = await S().exec('echo "$LANG|$LC_ALL|$LC_TIME|${FOO-unset}"; echo "$PATH" | grep -c /evil', {
        env: { LANG: 'C.UTF-8', LC_ALL: 'C', LC_TIME: 'POSIX', FOO: 'bar', PATH: '/evil' },
      });
      expect(r.stdout).toBe('C.UTF-8|C|POSIX|unset\n0\n');
    });

    it('gives a command a terminal when asked: its own pts of the size asked, owned by the login user, stderr merged', async () => {
      const r = await withPty(S(), 'tty; stty size; echo "TERM=$TERM"; stat -c "%G %a" "$(tty)"; test -O "$(tty)" && echo mine; echo err >&2; exit 3');
      expect(r.code).toBe(3);
      // The terminal turns each \n into \r\n (onlcr), as on any login.
      expect(r.output).toMatch(/^\/dev\/pts\/\d+\r\n33 101\r\nTERM=xterm-256color\r\ntty 620\r\nmine\r\nerr\r\n$/);
      expect((await S().exec('tty')).stdout).toBe('not a tty\n'); // without a pty request, pipes as before
    });

    it('passes a window change on to the command (SIGWINCH, new size)', async () => {
      // Waits (at most 5 s) for the size to change; the shell runs the trap as soon as it can.
      const command = 'trap "echo winch" WINCH; stty size; i=0; while [ "$(stty size)" = "33 101" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size';
      const r = await withPty(S(), command, async (ch, output) => {
        await until(() => output().includes('33 101'));
        ch.setWindow(40, 120, 0, 0);
      });
      expect(r.code).toBe(0);
      expect(r.output).toBe('33 101\r\nwinch\r\n40 120\r\n');
    });

    it('gives an interactive login shell on a terminal: a login shell, typed lines run, exit ends the session with its status', async () => {
      const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        S().client.shell({ rows: 24, cols: 80, term: 'vt100' }, (err, ch) => {
          if (err) return reject(err);
          let output = '';
          let code: number | null = null;
          const timer = setTimeout(() => reject(new Error(`the shell did not end: ${JSON.stringify(output)}`)), 15_000);
          ch.on('data', (d: Buffer) => (output += d.toString()));
          ch.on('exit', (c: number | null) => (code = c));
          ch.on('close', () => {
            clearTimeout(timer);
            resolve({ code, output });
          });
          ch.write('echo "sum=$((6*7))"; tty; echo "shell=$0"\nexit 7\n');
        });
      });
      expect(r.code).toBe(7);
      // Its output (the typed line is echoed as typed); a login shell: its name starts with '-'.
      expect(r.output).toMatch(/sum=42\r\n\/dev\/pts\/\d+\r\nshell=-\w+\r\n/);
    });

    it('runs several commands on one connection, concurrently', async () => {
      const results = await Promise.all([1, 2, 3, 4].map((n) => S().exec(`sleep 0.${n}; echo ${n}`)));
      expect(results.map((r) => r.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n']);
    });
  });
}
