// The command-line flags `npm run peer` and `npm run cluster` share: -v, --profile P,
// --config FILE (read by shared/config.ts configPath), -h. Everything else is positional.
// And the start every command shares: load the config, parse the arguments, and print what is
// wrong with either.
import { ConfigError, configPath, loadConfig, type Config } from '../shared/config.ts';

/** Exit codes of the peer commands for a mistake in the arguments or the config file. */
export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 3;

export interface CommonArgs {
  verbose: boolean;
  profile: string | undefined;
  positional: string[];
  help: boolean;
}

/** Parses the shared flags; a string is what is wrong with the arguments. */
export function parseCommonArgs(argv: readonly string[]): CommonArgs | string {
  const args: CommonArgs = { verbose: false, profile: undefined, positional: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-v' || a === '--verbose') args.verbose = true;
    else if (a === '--profile') {
      args.profile = argv[++i];
      if (!args.profile) return '--profile needs a name (fast or slow)';
    } else if (a.startsWith('--profile=')) args.profile = a.slice('--profile='.length);
    else if (a === '--config') {
      if (!argv[++i]) return '--config needs a file';
    } else if (a.startsWith('--config=')) continue;
    else if (a === '-h' || a === '--help') args.help = true;
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else args.positional.push(a);
  }
  return args;
}

/** A cluster size from the command line: a whole number >= 1 (the ini decides the maximum). */
export function parseCount(text: string | undefined): number | string {
  const count = Number(text);
  return Number.isInteger(count) && count >= 1 ? count : `N must be a whole number >= 1, got ${JSON.stringify(text)}`;
}

/**
 * Loads the config file the arguments name and parses the arguments. A mistake in either is
 * printed to stderr (both, when both are wrong: the usage lists the peers only a good config
 * names) and comes back as the exit code; `-h` (parse returns '') exits 0 after the usage.
 */
export function startCommand<A>(
  argv: readonly string[],
  parse: (argv: readonly string[]) => A | string,
  usage: (config: Config | null, why: string) => string,
): { config: Config; args: A } | { exit: number } {
  let config: Config | null = null;
  let configError: ConfigError | null = null;
  try {
    config = loadConfig(configPath([...argv]));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    configError = e;
  }
  const args = parse(argv);
  if (typeof args === 'string') {
    if (configError) process.stderr.write(`${configError.message}\n`);
    process.stderr.write(`${usage(config, args)}\n`);
    return { exit: args === '' ? 0 : EXIT_USAGE };
  }
  if (!config) {
    process.stderr.write(`${configError!.message}\n`);
    return { exit: EXIT_CONFIG };
  }
  return { config, args };
}
