// Preloaded into our peers by `npm run bench -- --cpu-prof DIR` (NODE_OPTIONS="--import this"),
// because Node 20 refuses --cpu-prof inside NODE_OPTIONS. It starts V8's sampling profiler at
// once and writes DIR/<pid>-<argv name>.cpuprofile when the process exits (a peer exits
// gracefully on SIGTERM); a SIGKILLed process writes nothing.
import { Session } from 'node:inspector';
import { writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_CPU_PROF_INTERVAL_US ?? 500) });
  session.post('Profiler.start');
  // A peer is named by its first argument (peer1); anything else by its script's directory (relay).
  const first = process.argv[2];
  const script = process.argv[1] ?? 'node';
  const name = (first && !first.startsWith('-') ? first : basename(dirname(script))).replace(/[^\w.-]/g, '_');
  process.on('exit', () => {
    // An in-thread inspector session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, res) => {
      if (err || !res) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
