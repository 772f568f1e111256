// `npm run user -- N [--config FILE] [--profile NAME] [--timeout S] [--json] [COMMAND...]`:
// the terminal client of the key-value store (the original User.py).
//
// Interactive: line editing and history (node:readline), the prompt names the leader, and a
// change of leader is told in one line. Takes `x add 100`, `add x 100`, `['x', 'add', '100']`
// (JSON or Python quotes), `help`, `leader`, `exit` or Ctrl-D.
// Scripted: `npm run user -- 3 x add 100` runs one command, prints the result and exits 0
// (1 when the command failed, 2 for wrong arguments, 3 for a bad config file).
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ClusterClient } from '../shared/client.ts';
import type { CommandResult } from '../shared/client-protocol.ts';
import { ConfigError, clusterOf, timingOf, type Config, type Timing } from '../shared/config.ts';
import { parseKvLine, parseKvWords, type Parsed } from '../shared/command-line.ts';
import { parseCommand } from '../shared/kv-commands.ts';
import { EXIT_CONFIG, EXIT_USAGE, startCommand } from './args.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export { EXIT_CONFIG, EXIT_USAGE };

// ---- reading what the user typed (the language itself is shared/command-line.ts) ----

export type LineAction =
  | { kind: 'empty' }
  | { kind: 'help' }
  | { kind: 'exit' }
  | { kind: 'leader' }
  | { kind: 'command'; command: unknown[] }
  | { kind: 'error'; message: string };

/** One typed line -> what to do. A command is checked here first, so mistakes get an answer at once. */
export function parseLine(line: string): LineAction {
  const t = line.trim();
  if (t === '') return { kind: 'empty' };
  const lower = t.toLowerCase();
  if (lower === 'help' || lower === '?' || lower === 'h') return { kind: 'help' };
  if (lower === 'exit' || lower === 'quit' || lower === 'q' || lower === 'bye') return { kind: 'exit' };
  if (lower === 'leader' || lower === 'status') return { kind: 'leader' };
  return toAction(parseKvLine(t));
}

function toAction(command: Parsed<unknown[]>): LineAction {
  return command.ok ? { kind: 'command', command: command.value } : { kind: 'error', message: command.message };
}

// ---- showing results ----

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

/** A result as one line for a person, and whether it succeeded. */
export function describeResult(command: unknown[], r: CommandResult, peer: string | null): { ok: boolean; text: string } {
  if (!r.ok) {
    switch (r.error) {
      case 'bad_command':
        return { ok: false, text: `error: bad command: ${r.message}` };
      case 'not_leader':
        return {
          ok: false,
          text: `error: no leader answered${r.leader ? ` (last hint: ${r.leader})` : ''}: ${r.message ?? 'nothing was done'}; is the cluster running? (npm run cluster -- N)`,
        };
      case 'unknown':
        return {
          ok: false,
          text: `outcome unknown: ${r.message ?? 'the leader lost its leadership or time ran out'}. The command may or may not have taken effect; read the key to see.`,
        };
    }
  }
  const where = `  [index ${r.index}, term ${r.term}${peer ? `, ${peer}` : ''}]`;
  const p = parseCommand(command);
  if (!p.ok) return { ok: true, text: `${show(r.value)}${where}` };
  const c = p.command;
  let text: string;
  switch (c.op) {
    case 'get':
      text = r.value === null ? `${c.key} is not set` : `${c.key} = ${show(r.value)}`;
      break;
    case 'set':
    case 'add':
      text = `${c.key} = ${show(r.value)}`;
      break;
    case 'del':
      text = r.value === null ? `${c.key} was not set` : `deleted ${c.key} (was ${show(r.value)})`;
      break;
    case 'cas':
      text = r.value === true ? `${c.key} = ${show(c.to)} (swapped)` : `${c.key} unchanged: it was not ${c.from === null ? 'unset' : show(c.from)} (not swapped)`;
      break;
  }
  return { ok: true, text: `${text}${where}` };
}

export const HELP = `Commands (KEY is any name; numbers may be written plainly):
  x set 5       set x 5         store a value (a number, a word, or "quoted text")
  x add 100     add x 100       add a number (a missing key counts as 0); shows the new value
  x get         get x           read a value (linearizable, through the leader)
  x del         del x           delete; shows the old value
  x cas 1 2     cas x 1 2       set x to 2 only if it is 1 (null: only if not set)
  ['x', 'add', '100']           a list, as in the original User.py (JSON or Python quotes)
  leader                        which peer this client talks to
  help                          this text
  exit                          leave (or Ctrl-D)
Line editing and history: arrow keys, Ctrl-R to search.`;

// ---- arguments ----

export interface UserArgs {
  count: number;
  words: string[];
  json: boolean;
  profile: string | undefined;
  timeoutS: number | undefined;
}

export function usage(config: Config | null, problem: string): string {
  const n = config?.peers.length;
  return [
    problem,
    'usage: npm run user -- N [--config FILE] [--profile NAME] [--timeout SECONDS] [--json] [COMMAND...]',
    '  N          how many peers the cluster has (it talks to the first N names of the ini file)',
    '  COMMAND    run one command and exit, e.g.: npm run user -- 3 x add 100',
    '             without it, an interactive prompt starts (type help there)',
    '  --config   the ini file (default ./raft_peer.ini or $RAFT_CONFIG)',
    '  --profile  timing profile, for how long to wait' + (config ? ` (${Object.keys(config.profiles).join(', ')}; default ${config.defaultProfile})` : ''),
    '  --timeout  seconds to wait for one command before giving up',
    '  --json     print the raw command_result (scripted use)',
    n ? `${config!.file} lists ${n} peer${n === 1 ? '' : 's'} (${peerList(config!)}), so N is 1..${n}; e.g. npm run user -- ${Math.min(3, n)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

function peerList(config: Config): string {
  const names = config.peers.map((p) => p.name);
  return names.length > 3 && names.every((x, i) => x === `peer${i + 1}`) ? `peer1..peer${names.length}` : names.join(', ');
}

export function parseArgs(argv: readonly string[]): UserArgs | string {
  let json = false;
  let profile: string | undefined;
  let timeoutS: number | undefined;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--config') {
      if (!argv[++i]) return '--config needs a file';
    } else if (a.startsWith('--config=')) continue;
    else if (a === '--profile' || a.startsWith('--profile=')) {
      profile = a === '--profile' ? argv[++i] : a.slice('--profile='.length);
      if (!profile) return '--profile needs a name';
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const v = a === '--timeout' ? argv[++i] : a.slice('--timeout='.length);
      timeoutS = Number(v);
      if (!v || !Number.isFinite(timeoutS) || timeoutS <= 0) return `--timeout needs a number of seconds, got ${JSON.stringify(v ?? '')}`;
    } else if (a === '-h' || a === '--help') return '';
    else if (a.startsWith('--')) return `unknown option ${a}`;
    else positional.push(a);
  }
  if (positional.length === 0) return 'how many peers does the cluster have?';
  const count = Number(positional[0]);
  if (!/^\d+$/.test(positional[0]!) || count < 1) return `N must be a whole number >= 1, got ${JSON.stringify(positional[0])}`;
  return { count, words: positional.slice(1), json, profile, timeoutS };
}

/** How long to wait for a command: long enough for an election and a commit in this profile. */
export function timeoutsFor(timing: Timing, timeoutS?: number): { timeoutMs: number; attemptTimeoutMs: number } {
  const timeoutMs = timeoutS !== undefined ? Math.round(timeoutS * 1000) : Math.max(5000, 4 * (timing.electionMaxMs + 2 * timing.latencyMs));
  const attemptTimeoutMs = Math.min(timeoutMs, Math.max(1000, 2 * timing.electionMaxMs + 4 * timing.latencyMs));
  return { timeoutMs, attemptTimeoutMs };
}

// ---- running ----

/** Command words from the shell: already split, so each is one word (one with spaces was quoted). */
function commandFromArgs(words: string[]): LineAction {
  if (words.length === 1) return parseLine(words[0]!);
  return toAction(parseKvWords(words.map((w) => ({ text: w, quoted: w === '' || /\s/.test(w) }))));
}

async function scripted(client: ClusterClient, args: UserArgs): Promise<number> {
  const action = commandFromArgs(args.words);
  if (action.kind === 'help') {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  if (action.kind !== 'command') {
    process.stderr.write(`${action.kind === 'error' ? action.message : `"${args.words.join(' ')}" is not a command here`}\n`);
    return EXIT_FAILED;
  }
  const r = await client.command(action.command);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.ok ? EXIT_OK : EXIT_FAILED;
  }
  const d = describeResult(action.command, r, client.leader());
  (d.ok ? process.stdout : process.stderr).write(`${d.text}\n`);
  return d.ok ? EXIT_OK : EXIT_FAILED;
}

function historyFile(): string | null {
  if (process.env.RAFT_USER_HISTORY !== undefined) return process.env.RAFT_USER_HISTORY || null;
  return join(homedir(), '.raft_village_history');
}

async function interactive(client: ClusterClient, config: Config, count: number): Promise<number> {
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const histPath = tty ? historyFile() : null;
  let history: string[] = [];
  if (histPath) {
    try {
      history = fs.readFileSync(histPath, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500);
    } catch {
      // no history yet
    }
  }
  const peers = clusterOf(config, count);
  out(`Raft Village client: a cluster of ${count} (${peers.map((p) => `${p.name} ${p.host}:${p.port}`).join(', ')})`);
  out(`Looking for the leader...`);
  let ready = false;
  const onChange = (leader: string, previous: string | null) => {
    if (!ready) return;
    out(previous ? `leader changed: now talking to ${leader} (was ${previous})` : `talking to ${leader}, the leader`);
  };
  changeListener = onChange;
  const found = await client.findLeader();
  ready = true;
  if (found) out(`Talking to ${found}, the leader (term ${client.term()}). Type help for commands, exit or Ctrl-D to leave.`);
  else out(`No leader answered yet; is the cluster running (npm run cluster -- ${count})? Commands will keep looking. Type help for commands.`);

  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: tty, history, historySize: 500, removeHistoryDuplicates: true });
  const prompt = () => {
    rl.setPrompt(`${client.leader() ?? 'no leader'}> `);
    rl.prompt();
  };
  let interrupts = 0;
  rl.on('SIGINT', () => {
    if (rl.line.length > 0 || interrupts === 0) {
      interrupts++;
      process.stdout.write(`\n(type exit or press Ctrl-D to leave; Ctrl-C again to quit)\n`);
      rl.write(null, { ctrl: true, name: 'u' });
      prompt();
      return;
    }
    rl.close();
  });
  prompt();
  for await (const line of rl) {
    interrupts = 0;
    const action = parseLine(line);
    if (histPath && action.kind !== 'empty') fs.appendFile(histPath, `${line.trim()}\n`, () => {});
    switch (action.kind) {
      case 'empty':
        break;
      case 'help':
        out(HELP);
        break;
      case 'exit':
        rl.close();
        return EXIT_OK;
      case 'leader': {
        const l = client.leader();
        out(l ? `talking to ${l}, the leader (term ${client.term()})` : 'no leader known right now; the next command looks for one');
        break;
      }
      case 'error':
        out(`error: ${action.message}`);
        break;
      case 'command': {
        const r = await client.command(action.command);
        out(describeResult(action.command, r, client.leader()).text);
        break;
      }
    }
    prompt();
  }
  if (tty) process.stdout.write('\n');
  return EXIT_OK;
}

let changeListener: ((leader: string, previous: string | null) => void) | null = null;

export async function main(argv: string[]): Promise<number> {
  const start = startCommand(argv, parseArgs, usage);
  if ('exit' in start) return start.exit;
  const { config, args } = start;
  let timing: Timing;
  let peers;
  try {
    peers = clusterOf(config, args.count);
    timing = timingOf(config, args.profile ?? config.defaultProfile);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${usage(config, e.message)}\n`);
    return EXIT_USAGE;
  }
  const client = new ClusterClient({
    peers,
    ...timeoutsFor(timing, args.timeoutS),
    onLeaderChange: (leader, previous) => changeListener?.(leader, previous),
  });
  try {
    return args.words.length > 0 ? await scripted(client, args) : await interactive(client, config, args.count);
  } finally {
    client.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
