#!/usr/bin/env node
// CPU of one SSH handshake with mlkem768x25519-sha256 against curve25519-sha256, client and server
// side apart: ssh2 (as patched at install) to an ssh2 server in another process on loopback, the key
// exchange the only difference. Rounds alternate between the two; medians over rounds.
// Usage: node bench/kex.mjs [connections per round, default 200] [rounds, default 7]
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';

const KEXES = ['curve25519-sha256', 'mlkem768x25519-sha256'];
const ADDRESS = '127.190.250.1';

if (process.argv[2] === 'server') {
  // The server side: accepts any login, counts its CPU between the parent's marks.
  const hostKey = readFileSync(process.argv[3]);
  const srv = new ssh2.Server({ hostKeys: [hostKey], algorithms: { kex: KEXES } }, (c) => {
    c.on('authentication', (ctx) => ctx.accept());
    c.on('error', () => {});
  });
  let mark = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'mark') mark = process.cpuUsage();
    if (m === 'read') {
      const d = process.cpuUsage(mark);
      process.send({ cpuMs: (d.user + d.system) / 1000 });
    }
    if (m === 'stop') srv.close(() => process.exit(0));
  });
  srv.listen(0, ADDRESS, () => process.send({ port: srv.address().port }));
} else {
  const perRound = Number(process.argv[2] ?? 200);
  const rounds = Number(process.argv[3] ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-kex-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  const server = fork(new URL(import.meta.url).pathname, ['server', join(dir, 'host_key')]);
  const ask = (m) => new Promise((done) => { server.once('message', done); if (m) server.send(m); });
  const { port } = await ask();

  const handshake = (kex) => new Promise((done, fail) => {
    const c = new ssh2.Client();
    c.on('ready', () => { c.end(); done(); });
    c.on('error', fail);
    const sock = net.connect({ host: ADDRESS, port, noDelay: true });
    c.connect({ sock, username: 'bench', algorithms: { kex: [kex] } });
  });

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const samples = Object.fromEntries(KEXES.map((k) => [k, { client: [], server: [] }]));
  for (const kex of KEXES) for (let i = 0; i < 20; i++) await handshake(kex); // warm up, loads ML-KEM
  for (let r = 0; r < rounds; r++) {
    for (const kex of r % 2 ? [...KEXES].reverse() : KEXES) {
      server.send('mark');
      const before = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await handshake(kex);
      const d = process.cpuUsage(before);
      const { cpuMs } = await ask('read');
      samples[kex].client.push((d.user + d.system) / 1000 / perRound);
      samples[kex].server.push(cpuMs / perRound);
    }
  }
  server.send('stop');
  rmSync(dir, { recursive: true, force: true });
  const rows = KEXES.map((k) => ({ kex: k, clientMs: median(samples[k].client), serverMs: median(samples[k].server) }));
  console.log(`handshake CPU per connection (ms), medians of ${rounds} rounds x ${perRound} connections, node ${process.version}`);
  for (const row of rows) console.log(`${row.kex.padEnd(24)} client ${row.clientMs.toFixed(2)}  server ${row.serverMs.toFixed(2)}`);
  const [c, m] = rows;
  console.log(`extra for ${m.kex}: client +${(m.clientMs - c.clientMs).toFixed(2)} ms, server +${(m.serverMs - c.serverMs).toFixed(2)} ms`);
  console.log(JSON.stringify({ perRound, rounds, rows }));
}
