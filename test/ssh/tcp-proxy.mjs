// A minimal ProxyCommand for the jump tests: relays stdin/stdout to HOST:PORT, writes its pid to PIDFILE.
import { writeFileSync } from 'node:fs';
import net from 'node:net';

const [host, port, pidFile] = process.argv.slice(2);
writeFileSync(pidFile, String(process.pid));
const s = net.connect(Number(port), host);
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on('error', (e) => {
  process.stderr.write(`tcp-proxy: ${e.message}\n`);
  process.exit(1);
});
s.on('close', () => process.exit(0));
