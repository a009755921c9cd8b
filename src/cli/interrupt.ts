// Ctrl-C during a fleet-wide action: the first starts no new guests and lets running ones finish,
// the second exits at once (closing every connection with the process).
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  let presses = 0;
  const onInt = () => {
    presses++;
    if (presses === 1) {
      ctl.abort();
      process.stderr.write('\nfleet: interrupted: starting no new guests, waiting for running ones (Ctrl-C again to abort them)\n');
    } else {
      process.stderr.write('\nfleet: aborted\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onInt);
  try {
    return await work(ctl.signal);
  } finally {
    process.off('SIGINT', onInt);
  }
}
