// The command-line flags `npm run peer` and `npm run cluster` share: -v, --profile P,
// --config FILE (read by shared/config.ts configPath), -h. Everything else is positional.

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
