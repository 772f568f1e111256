// `npm run game -- [--config FILE] [--port P] [--host H] [--attacks on|off] [--clock on|off]`: runs the relay.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../../shared/config.ts';
import { ClusterClient } from '../../shared/client.ts';
import { startRelay, type Relay } from './server.ts';
import { stopOnSignals } from './stop-signals.ts';

const USAGE = `usage: npm run game -- [--config FILE] [--port P] [--host H] [--attacks on|off] [--clock on|off]
  --config   the ini file (default: ./raft_peer.ini or $RAFT_CONFIG)
  --port     listen port (default: [relay] port); peers find the relay through the ini, so
             change [relay] port there too if the peers are to connect
  --host     bind address (default: [relay] host, normally 127.0.0.1)
  --attacks  whether the monster attacks from the start (default: on)
  --clock    offer the village clock (pause, speed, step) to the peers (default: on)`;

export interface RelayArgs {
  config: string | undefined;
  port: number | undefined;
  host: string | undefined;
  attacks: boolean;
  /** Offer the village clock; absent: on. */
  clock?: boolean;
}

export function parseRelayArgs(argv: readonly string[]): RelayArgs | string {
  const args: RelayArgs = { config: undefined, port: undefined, host: undefined, attacks: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    try {
      switch (flag) {
        case '--config':
          args.config = value();
          break;
        case '--port': {
          const v = value();
          const n = Number(v);
          if (!/^\d+$/.test(v) || n > 65535) return `--port must be a port number from 0 to 65535, got ${JSON.stringify(v)}`;
          args.port = n;
          break;
        }
        case '--host':
          args.host = value();
          break;
        case '--attacks': {
          const v = value();
          if (v !== 'on' && v !== 'off') return `--attacks takes on or off, got ${JSON.stringify(v)}`;
          args.attacks = v === 'on';
          break;
        }
        case '--clock': {
          const v = value();
          if (v !== 'on' && v !== 'off') return `--clock takes on or off, got ${JSON.stringify(v)}`;
          args.clock = v === 'on';
          break;
        }
        case '--no-attacks':
          args.attacks = false;
          break;
        case '-h':
        case '--help':
          return '';
        default:
          return `unknown argument ${JSON.stringify(a)}`;
      }
    } catch (e) {
      return (e as Error).message;
    }
  }
  return args;
}

/** Starts the relay for a config, with the real cluster client; used by main() and npm start. */
export async function runRelay(config: Config, args: Omit<RelayArgs, 'config'>, log?: (line: string) => void): Promise<Relay> {
  let relay: Relay | null = null;
  relay = await startRelay({
    config,
    ...(args.host !== undefined ? { host: args.host } : {}),
    ...(args.port !== undefined ? { port: args.port } : {}),
    attacks: args.attacks,
    ...(args.clock !== undefined ? { clock: args.clock } : {}),
    kvClient: (peers) => new ClusterClient({ peers, clientId: `relay-${process.pid}-${Date.now().toString(36)}`, timeoutMs: commandTimeoutMs(relay) }),
    ...(log ? { log } : {}),
  });
  return relay;
}

/** Long enough for an election or two in the cluster's profile (slow motion takes seconds). */
function commandTimeoutMs(relay: Relay | null): number {
  const t = relay?.picture.snapshot().timing;
  if (!t) return 10_000;
  // The page waits 20 s for any reply: answer before that.
  return Math.min(18_000, Math.max(8000, 2 * t.electionMaxMs + 6 * t.latencyMs + 2000));
}

export function exposureWarning(host: string): string | null {
  if (['127.0.0.1', 'localhost', '::1'].includes(host)) return null;
  return (
    `warning: the relay listens on ${host}, not only on this machine. Anyone who can reach it can watch the ` +
    'village (the cluster state and the key-value board); control (kill, revive, isolate, console) needs the ' +
    'token of the page the relay serves, but that page itself is served to anyone who can reach the port.'
  );
}

async function main(): Promise<void> {
  const args = parseRelayArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) process.stderr.write(`${args}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(args ? 2 : 0);
  }
  let config: Config;
  try {
    config = loadConfig(args.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let relay: Relay;
  try {
    relay = await runRelay(config, args);
  } catch (e) {
    process.stderr.write(`relay: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const warning = exposureWarning(relay.host);
  if (warning) process.stderr.write(`${warning}\n`);
  process.stdout.write(`relay listening on ${relay.host}:${relay.port}; open ${relay.url}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void relay.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  stopOnSignals(stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
