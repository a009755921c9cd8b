// A ProxyCommand as OpenSSH runs it: tokens expanded, started through `sh -c`, its stdin and stdout
// used as the connection's byte stream, its stderr kept for the error when the connection fails.
import { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

/** The values ProxyCommand's tokens stand for (ssh_config(5): %h %n %p %r, and %% for a percent). */
export interface ProxyTokens {
  /** %h: where to connect (the guest's address). */
  host: string;
  /** %n: the name as given (the inventory name). */
  name: string;
  port: number;
  /** %r: the remote user. */
  user: string;
}

const TOKENS = 'hnpr%';

/** What is wrong with a ProxyCommand's tokens, or undefined when ssh would accept them. */
export function checkProxyCommand(command: string): string | undefined {
  for (const m of command.matchAll(/%(.?)/g)) {
    if (m[1] === '') return 'ProxyCommand ends with a lone %';
    if (!TOKENS.includes(m[1]!)) return `ProxyCommand has the unknown token %${m[1]} (known: %h %n %p %r %%)`;
  }
  return undefined;
}

/** The command with its tokens replaced, unquoted as ssh does. Throws on an unknown token. */
export function expandProxyCommand(command: string, t: ProxyTokens): string {
  const problem = checkProxyCommand(command);
  if (problem) throw new Error(problem);
  const values: Record<string, string> = { h: t.host, n: t.name, p: String(t.port), r: t.user, '%': '%' };
  return command.replace(/%(.)/g, (_, k: string) => values[k]!);
}

export interface ProxyProcess {
  /** The child's stdout (read) and stdin (write) as one stream, for ssh2's `sock`. */
  sock: Duplex;
  /**
   * Why a connection over the proxy failed: its exit status or signal and the tail of its stderr,
   * else (still running) `message` with what it said.
   */
  explain(message: string): Promise<string>;
  /** Ends the child (SIGHUP, as ssh does); safe to call twice. */
  kill(): void;
}

/** Enough stderr to show why a proxy failed, not a flood. */
const STDERR_KEEP = 4096;

/**
 * Starts `command` (already expanded) through `sh -c exec ...`, as ssh does. execa is loaded here, on
 * first use: with its dependencies it is a good part of the CLI's start-up, which most runs never need.
 */
export async function startProxyCommand(command: string): Promise<ProxyProcess> {
  const { execa } = await import('execa');
  const child = execa('sh', ['-c', `exec ${command}`], {
    stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, stripFinalNewline: false,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_KEEP);
  });
  // A proxy that exits early breaks the pipes: the connection's own error path reports it.
  child.stdin!.on('error', () => {});
  const sock = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
  sock.on('close', () => kill());
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
  };
  const explain = async (message: string) => {
    // The pipes can close just before the exit status is known: give the child a moment to be reaped.
    const exit = await Promise.race([child, delay(1000, undefined, { ref: false })]);
    const said = stderr.trim().split('\n').filter(Boolean).slice(-3).join('; ');
    if (!exit) return `${message} (proxy command \`${command}\` still running${said ? `; it said: ${said}` : ''})`;
    const how = exit.signal ? `killed by ${exit.signal}` : exit.exitCode === undefined ? `could not start (${exit.shortMessage})` : `exited with status ${exit.exitCode}`;
    return `proxy command \`${command}\` ${how}${said ? `: ${said}` : ''}`;
  };
  return { sock, explain, kill };
}
