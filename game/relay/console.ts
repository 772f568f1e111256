// The web console's language: one typed line -> one command. Pure, so it is tested on its own.
//
//   x add 100   ['x','add','100']   get x   set y 5   add x 1   cas k a b   del k
//   kill peer2   revive peer2   isolate peer3   heal   campaign peer1   join peer6   leave peer2
//   attacks off|on   pause   resume   step   speed 0.25   status   help
//
// The key-value part (words, quotes, lists, key first or verb first) is shared/command-line.ts,
// the same language as the terminal client, with its rules and formatting in
// shared/kv-commands.ts; this file adds the village commands.
import { parseKvLine, parseKvWords, tokenize, type CommandValue, type Parsed } from '../../shared/command-line.ts';
import { formatCommandList } from '../../shared/kv-commands.ts';
import { MAX_SPEED, MIN_SPEED } from '../../shared/village-clock.ts';

/** A value in a key-value command (null: cas FROM "not set"). */
export type KvValue = CommandValue;

export type ConsoleCommand =
  | { kind: 'kv'; command: KvValue[] }
  | { kind: 'kill' | 'revive' | 'isolate' | 'campaign' | 'join' | 'leave'; peer: string }
  | { kind: 'heal' }
  | { kind: 'attacks'; on: boolean | null }
  | { kind: 'clock'; action: 'pause' | 'resume' | 'step' }
  | { kind: 'clock'; action: 'speed'; speed: number }
  | { kind: 'status' }
  | { kind: 'help' };

export type ConsoleParse = { ok: true; command: ConsoleCommand } | { ok: false; message: string };

export const CONSOLE_HELP = [
  'Key-value commands (through the Raft leader, linearizable):',
  '  set KEY VALUE      add KEY N      get KEY      del KEY      cas KEY FROM TO',
  '  also as KEY OP ARGS (x add 100) or as a list: [\'x\', \'add\', \'100\']',
  'Village commands:',
  '  kill PEER      revive PEER      isolate PEER      heal      campaign PEER',
  '  join PEER (add a peer of raft_peer.ini to the cluster)      leave PEER (remove a member)',
  '  attacks on|off      status      help',
  'The village clock (the same as space, . and the speed slider):',
  '  pause      resume      step (while paused)      speed 0.25 (0.05 to 1 of the profile\'s pace)',
].join('\n');

// Not `add` for join: that is the key-value command (add x 1).
const PEER_VERBS = { kill: 'kill', revive: 'revive', isolate: 'isolate', campaign: 'campaign', elect: 'campaign', join: 'join', leave: 'leave' } as const;

export function parseConsoleLine(input: string): ConsoleParse {
  const line = input.trim();
  if (line === '' || line.startsWith('[')) return kv(parseKvLine(line));
  const tokens = tokenize(line);
  if (!tokens.ok) return tokens;
  const t = tokens.value;
  const words = t.map((x) => x.text);
  const first = t[0]!.quoted ? '' : words[0]!.toLowerCase();

  if (t.length === 1 && (first === 'help' || first === '?')) return { ok: true, command: { kind: 'help' } };
  if (t.length === 1 && first === 'status') return { ok: true, command: { kind: 'status' } };
  if (t.length === 1 && first === 'heal') return { ok: true, command: { kind: 'heal' } };
  if (t.length === 1 && (first === 'pause' || first === 'resume' || first === 'step')) return { ok: true, command: { kind: 'clock', action: first } };
  if (first === 'speed' && t.length === 2 && !t[1]!.quoted) {
    // speed 0.25, 0.25x or 25% (a key named speed keeps its commands: speed set 5).
    const m = /^(\d+(?:\.\d+)?|\.\d+)(x|%)?$/i.exec(words[1]!);
    if (m) {
      const speed = Number(m[1]) / (m[2] === '%' ? 100 : 1);
      if (speed < MIN_SPEED || speed > MAX_SPEED) return { ok: false, message: `speed takes ${MIN_SPEED} to ${MAX_SPEED} (of the profile's pace), got ${words[1]}` };
      return { ok: true, command: { kind: 'clock', action: 'speed', speed } };
    }
  }
  if (first === 'attacks' && t.length <= 2) {
    if (t.length === 1) return { ok: true, command: { kind: 'attacks', on: null } };
    const arg = words[1]!.toLowerCase();
    if (arg === 'on' || arg === 'off') return { ok: true, command: { kind: 'attacks', on: arg === 'on' } };
    return { ok: false, message: `attacks takes on or off, got ${JSON.stringify(words[1])}` };
  }
  if (Object.hasOwn(PEER_VERBS, first) && t.length <= 2) {
    const kind = PEER_VERBS[first as keyof typeof PEER_VERBS];
    if (t.length === 1) return { ok: false, message: `usage: ${first} PEER (for example: ${first} peer2)` };
    return { ok: true, command: { kind, peer: words[1]! } };
  }

  // Key-value: verb first (set y 5) or key first (y set 5).
  return kv(parseKvWords(t));
}

function kv(command: Parsed<KvValue[]>): ConsoleParse {
  return command.ok ? { ok: true, command: { kind: 'kv', command: command.value } } : command;
}

/** How a command reads in the console: x add 100, y set "5" (shared/kv-commands.ts formats it). */
export function formatKv(command: readonly KvValue[]): string {
  return formatCommandList(command);
}
