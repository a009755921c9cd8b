// `fleet emulator up|down|status|fault`: option parsing only; the work is in ./emulator.js (lazy).
import { Command, Option } from 'commander';
import { FAULT_HELP } from '../../emulator/faults.js';
import { commandWords } from '../words.js';

/** Where `emulator` commands keep the fleet unless --state (or FLEET_EMULATOR_STATE, see ../options.ts) says. */
export const DEFAULT_STATE = '.fleet/emulator';

export function registerEmulator(program: Command): void {
  const emu = program.command('emulator').description('the bundled fleet of emulated SSH guests (for demos, tests and rehearsals)');
  const stateOpt = () => new Option('--state <dir>', 'state directory of the emulated fleet').default(DEFAULT_STATE);
  const faultList = Object.entries(FAULT_HELP).map(([k, v]) => `  ${k.padEnd(12)} ${v}`).join('\n');

  emu
    .command('up')
    .description('start N guests cloned from one golden image, each on its own loopback address')
    .requiredOption('-g, --guests <n>', 'number of guests')
    .addOption(stateOpt())
    .option('--subnet <cidr>', 'loopback subnet the guests live in', '127.77.0.0/16')
    .addOption(new Option('--port <port>', 'sshd port of every guest').default(2222))
    .option('--unique-keys', 'give each guest its own host keys and machine-id (default: cloned, as in the field)')
    .option('--golden-from <STATE/guests/NAME>', 'the golden image is that guest of another, running emulator as it sees its files (prepare it with playbooks/golden-image-prep.yaml); its client key comes along')
    .option('--host-capacity <c>', 'at most C guest commands run at once; the rest queue (eligible queue)')
    .option('--fault <spec...>', 'inject faults: KIND[:MS]@WHO, WHO = all | N% | 3,5-7 | name | address')
    .option('--seed <seed>', 'seed for N% fault selections', 'clonefleet')
    .option('--host-network', 'let guest commands share the host\'s network (default: each guest has its own, loopback only).\n' +
      'RISK: a guest\'s user can then listen on any loopback address, a stopped guest\'s included, and see the host\'s sockets')
    .option('--detach', 'run in the background and return once every guest listens')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', `\nFaults:\n${faultList}\n\nThe state directory gets: golden/, guests/, id_ed25519 (client key), inventory, hosts, known_hosts.`)
    .action(async (opts) => (await import('./emulator.js')).up(opts));

  emu
    .command('down')
    .description('stop the emulated fleet (the state directory stays unless --remove)')
    .addOption(stateOpt())
    .option('--remove', 'also delete the state directory (guest roots, keys, inventory)')
    .action(async (opts) => (await import('./emulator.js')).down(opts));

  emu
    .command('status')
    .description('guests, connections, faults and the host model\'s queue')
    .addOption(stateOpt())
    .option('--json', 'print JSON')
    .action(async (opts) => (await import('./emulator.js')).status(opts));

  emu
    .command('fault')
    .description('set or clear faults on a running fleet')
    .addOption(stateOpt())
    .argument('[spec...]', 'KIND[:MS]@WHO to set')
    .option('--clear [kind@who]', 'clear faults (all, one kind, or KIND@WHO)')
    .addHelpText('after', `\nFaults:\n${faultList}`)
    .action(async (specs, opts) => (await import('./emulator.js')).fault(specs, opts));

  emu
    .command('console')
    .usage('[--state DIR] <guest> -- <command...>')
    .description("run a root shell command on one guest without SSH: the hypervisor console's view (works while its sshd is down)")
    .addOption(stateOpt())
    .argument('<guest>', 'guest name, number or address')
    .option('--stdin', 'pass this command\'s standard input to the guest command')
    .addHelpText('after', `
Example (an out-of-band channel for \`fleet keys rotate --confirm-with\`):
  fleet emulator console --state DIR guest007 -- "cat /etc/ssh/ssh_host_*_key.pub"      (every key type)`)
    .action(async (guest, opts) => (await import('./emulator-console.js')).console(guest, commandWords(), opts));

  emu
    .command('sshd')
    .description("start or stop one guest's sshd (as its hypervisor console would)")
    .addOption(stateOpt())
    .argument('<action>', 'start | stop')
    .argument('<guest>', 'guest name, number or address')
    .action(async (action, guest, opts) => (await import('./emulator.js')).sshd(action, guest, opts));
}
