// `npm run peer -- NAME N [--join] [-v] [--profile fast|slow|lan] [--config FILE]`: runs one Raft
// peer (the original `raft_single peername peernum [-v]`). The cluster starts as the first N
// names of raft_peer.ini; NAME must be one of them, unless --join: then NAME may be any name of the
// ini, and the peer starts as a newcomer (a learner, never campaigning) that the leader adds with
// `join NAME` and promotes to voter once it has caught up. Either way, the configuration entries in
// its log decide from then on (a restarted peer takes its membership from its log).
// Debugging aids (environment): RAFT_WIRE_TAP=DIR appends every /raft frame the peer sends to
// DIR/NAME.jsonl; RAFT_REPORTER_QUEUE=N shrinks the -v event queue (to see reporter_dropped).
// For testing the safety monitor only: RAFT_PLANT_BUG=NAME plants a known bug (peer/planted.ts).
import { ConfigError, clusterOf, findPeer, timingOf, type Config } from '../shared/config.ts';
import { EXIT_USAGE, parseCommonArgs, parseCount, startCommand } from './args.ts';
import { PeerShell } from './peer.ts';
import { plantedBugFromEnv } from './planted.ts';
import { EXIT_WITH_STDIN_ENV } from './spawn.ts';
import { StorageCorruptError } from './storage.ts';

const EXIT_STORAGE = 4;
const EXIT_FATAL = 1;

interface Args {
  name: string;
  count: number;
  verbose: boolean;
  profile: string | undefined;
  join: boolean;
}

function usage(config: Config | null, problem: string): string {
  const names = config ? config.peers.map((p) => p.name) : null;
  return [
    problem,
    'usage: npm run peer -- NAME N [--join] [-v] [--profile fast|slow|lan] [--config FILE]',
    '  NAME       this peer, one of the first N names of the ini file (any name of it with --join)',
    '  N          how many peers the cluster started with (the first N names)',
    '  --join     start as a newcomer: a learner until the leader adds it (join NAME) and promotes it',
    '  -v         stream events to the relay (the village)',
    '  --profile  timing profile' + (config ? ` (${Object.keys(config.profiles).join(', ')}; default ${config.defaultProfile})` : ''),
    '  --config   the ini file (default ./raft_peer.ini or $RAFT_CONFIG)',
    names ? `peers in ${config!.file}: ${names.join(', ')} (so N is 1..${names.length})` : '',
    names && names.length >= 3 ? `example: npm run peer -- ${names[0]} 3` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

function parseArgs(argv: readonly string[]): Args | string {
  const join = argv.includes('--join');
  const common = parseCommonArgs(argv.filter((a) => a !== '--join'));
  if (typeof common === 'string') return common;
  if (common.help) return '';
  const { positional, verbose, profile } = common;
  if (positional.length < 2) return positional.length === 0 ? 'which peer, and how many peers in the cluster?' : 'how many peers in the cluster?';
  if (positional.length > 2) return `unexpected arguments: ${positional.slice(2).join(' ')}`;
  const count = parseCount(positional[1]);
  if (typeof count === 'string') return count;
  return { name: positional[0]!, count, verbose, profile, join };
}

async function main(): Promise<void> {
  const start = startCommand(process.argv.slice(2), parseArgs, usage);
  if ('exit' in start) process.exit(start.exit);
  const { config, args } = start;
  let self, cluster, timing;
  const profile = args.profile ?? config.defaultProfile;
  try {
    cluster = clusterOf(config, args.count);
    self = args.join ? findPeer(config, args.name, config.peers.length) : findPeer(config, args.name, args.count);
    timing = timingOf(config, profile);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const newcomer = !args.join && config.peers.some((p) => p.name === args.name);
    process.stderr.write(`${usage(config, newcomer ? `${e.message}; to add ${args.name} to a running cluster, start it with --join` : e.message)}\n`);
    process.exit(EXIT_USAGE);
  }

  const plantBug = plantedBugFromEnv();
  if (typeof plantBug === 'object') {
    process.stderr.write(`${args.name}: ${plantBug.error}\n`);
    process.exit(EXIT_USAGE);
  }
  if (plantBug) process.stderr.write(`${args.name}: planted bug ${plantBug} is ON (for testing the safety monitor)\n`);
  let shell: PeerShell;
  try {
    shell = await PeerShell.start({
      config,
      self,
      cluster,
      profile,
      timing,
      verbose: args.verbose,
      wireTap: process.env.RAFT_WIRE_TAP || undefined,
      reporterQueue: process.env.RAFT_REPORTER_QUEUE ? Number(process.env.RAFT_REPORTER_QUEUE) || undefined : undefined,
      plantBug,
      join: args.join,
      onFatal: () => process.exit(EXIT_FATAL),
      onRemoved: () => process.exit(0),
    });
  } catch (e) {
    if (e instanceof StorageCorruptError) {
      process.stderr.write(
        `${args.name}: the durable state is damaged and cannot be used safely:\n  ${e.message}\n` +
          `Committed entries may be in the damaged part, so the peer will not start. Move the damaged directory aside ` +
          `(${config.dataDir}/${args.name}) to start it empty; it then catches up from the others.\n`,
      );
      process.exit(EXIT_STORAGE);
    }
    process.stderr.write(`${args.name}: ${(e as Error).message}\n`);
    process.exit(EXIT_FATAL);
  }

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${args.name}: stopping (${why})\n`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    void shell.stop().then(() => process.exit(0));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  if (process.env[EXIT_WITH_STDIN_ENV] === '1') {
    // Started by the launcher or a test: when the parent dies, its end of our stdin closes.
    process.stdin.on('end', () => stop('parent exited'));
    process.stdin.on('close', () => stop('parent exited'));
    process.stdin.on('error', () => stop('parent exited'));
    process.stdin.resume();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(EXIT_FATAL);
});
