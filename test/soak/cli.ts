// `npm run soak -- [--minutes 60] [--peers 5] [--profile fast|slow] [--attack-every S] [--samples N]`
// Runs the village as `npm start` does with the monster attacking and one page open, and
// reports the relay's memory over time (resident, and JavaScript heap after a full collection)
// and whether the page left open draws what a fresh page draws. Exit 1 when the pictures differ
// or the heap after collection keeps growing (over 0.25 MiB a minute in the run's second half).
import { DEFAULT_SOAK, runSoak, type SoakOptions } from './soak.ts';

const USAGE = 'usage: npm run soak -- [--minutes 60] [--peers 5] [--profile fast|slow] [--attack-every SECONDS] [--samples N]';
export const GROWING_MiB_PER_MIN = 0.25;

export function parseSoakArgs(argv: readonly string[]): Omit<SoakOptions, 'log'> | string {
  const o = { ...DEFAULT_SOAK };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const v = argv[++i];
    const num = (min: number) => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number >= ${min}, got ${JSON.stringify(v ?? null)}`);
      return n;
    };
    try {
      switch (flag) {
        case '--minutes':
          o.minutes = num(0.1);
          break;
        case '--peers':
          o.peers = Math.round(num(1));
          break;
        case '--profile':
          if (v !== 'fast' && v !== 'slow') return `--profile takes fast or slow, got ${JSON.stringify(v ?? null)}`;
          o.profile = v;
          break;
        case '--attack-every':
          o.attackEveryS = Math.round(num(1));
          break;
        case '--samples':
          o.samples = Math.round(num(2));
          break;
        default:
          return `unknown argument ${JSON.stringify(flag)}`;
      }
    } catch (e) {
      return (e as Error).message;
    }
  }
  return o;
}

async function main(): Promise<void> {
  const parsed = parseSoakArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    process.stderr.write(`${parsed}\n${USAGE}\n`);
    process.exit(2);
  }
  const r = await runSoak({ ...parsed, log: (l) => process.stdout.write(`${l}\n`) });
  const first = r.samples[0]!;
  const last = r.samples[r.samples.length - 1]!;
  process.stdout.write(
    [
      '',
      `relay memory over ${(last.atS / 60).toFixed(1)} min with ${r.strikes} attacks:`,
      `  resident        ${first.rssMiB.toFixed(1)} -> ${last.rssMiB.toFixed(1)} MiB (second half: ${r.rssSlopeMiBPerMin.toFixed(3)} MiB/min)`,
      `  heap after gc   ${first.heapMiB.toFixed(1)} -> ${last.heapMiB.toFixed(1)} MiB (second half: ${r.heapSlopeMiBPerMin.toFixed(3)} MiB/min)`,
      r.heapSlopeMiBPerMin > GROWING_MiB_PER_MIN ? `  the heap after gc is still growing: a leak` : '  the heap after gc is flat: no leak',
      r.differences.length === 0 ? 'the page left open draws what a fresh page draws' : `the page left open differs from a fresh page:\n  ${r.differences.join('\n  ')}`,
      r.pageProblems.length === 0 ? 'no errors in the pages' : `errors in the pages:\n  ${r.pageProblems.join('\n  ')}`,
      '',
    ].join('\n'),
  );
  process.exit(r.differences.length === 0 && r.pageProblems.length === 0 && r.heapSlopeMiBPerMin <= GROWING_MiB_PER_MIN ? 0 : 1);
}

if (process.argv[1]?.endsWith('cli.ts')) void main();
