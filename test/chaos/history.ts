// A history of key-value operations as clients saw them: when each was invoked, when (and
// whether) it returned, and what it returned. The linearizability checker reads this; the
// chaos run writes it, one JSON object per line, so that a failing run can be re-checked.
//
// Times are milliseconds on one monotonic clock (performance.now() of the process that ran
// the clients). An operation whose outcome is unknown never returns: its return time is
// +Infinity (written as null in the file).
import { readFileSync, writeFileSync } from 'node:fs';

/** A JSON value as the key-value store holds it. */
export type Value = null | boolean | number | string | Value[] | { [k: string]: Value };

/** What a client asked for, on one key. */
export type KvInput =
  | { f: 'set'; value: Value }
  | { f: 'add'; n: number }
  | { f: 'get' }
  | { f: 'del' }
  | { f: 'cas'; from: Value; to: Value };

/**
 * ok: the command took effect once and returned `value`.
 * fail: it definitely did not take effect (not_leader, bad_command, refused before sending).
 * unknown: it may or may not take effect, now or later (error 'unknown', timeout, connection
 * lost after sending).
 */
export type Outcome =
  | { type: 'ok'; value: Value }
  | { type: 'fail'; error: string }
  | { type: 'unknown'; error: string };

export interface Operation {
  /** Unique within the history; the order of invocation. */
  id: number;
  client: string;
  key: string;
  input: KvInput;
  /** When the client sent it. */
  invoke: number;
  /** When the client got the answer; +Infinity while pending and for unknown outcomes. */
  ret: number;
  outcome: Outcome;
}

/** The command array of the client contract for an input: ['x', 'add', 5]. */
export function commandOf(key: string, input: KvInput): unknown[] {
  switch (input.f) {
    case 'set':
      return [key, 'set', input.value];
    case 'add':
      return [key, 'add', input.n];
    case 'get':
      return [key, 'get'];
    case 'del':
      return [key, 'del'];
    case 'cas':
      return [key, 'cas', input.from, input.to];
  }
}

/** 'add 5', 'cas 3 7', 'get' — how an input reads in a counterexample. */
export function describeInput(input: KvInput): string {
  switch (input.f) {
    case 'set':
      return `set ${show(input.value)}`;
    case 'add':
      return `add ${input.n}`;
    case 'get':
      return 'get';
    case 'del':
      return 'del';
    case 'cas':
      return `cas ${show(input.from)} ${show(input.to)}`;
  }
}

export function describeOutcome(outcome: Outcome): string {
  switch (outcome.type) {
    case 'ok':
      return show(outcome.value);
    case 'fail':
      return `failed (${outcome.error})`;
    case 'unknown':
      return `unknown (${outcome.error})`;
  }
}

export function show(v: unknown): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

/**
 * The outcome a contract `command_result` frame (or a client-side failure) means for the
 * history. Errors that say nothing was done are failures; everything else that is not ok is
 * unknown, because the command may already sit in some peer's log.
 */
export function outcomeOf(result: { ok: boolean; value?: unknown; error?: string }): Outcome {
  if (result.ok) return { type: 'ok', value: (result.value ?? null) as Value };
  const error = result.error ?? 'error';
  if (error === 'not_leader' || error === 'bad_command') return { type: 'fail', error };
  return { type: 'unknown', error };
}

/** Records operations as concurrent clients invoke them and get answers. */
export class HistoryRecorder {
  private readonly ops: Operation[] = [];
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.clock = clock;
  }

  invoke(client: string, key: string, input: KvInput): Operation {
    const op: Operation = { id: this.ops.length, client, key, input, invoke: this.clock(), ret: Infinity, outcome: { type: 'unknown', error: 'pending' } };
    this.ops.push(op);
    return op;
  }

  complete(op: Operation, outcome: Outcome): void {
    if (op.outcome.type !== 'unknown' || op.outcome.error !== 'pending') throw new Error(`operation ${op.id} completed twice`);
    op.outcome = outcome;
    op.ret = outcome.type === 'unknown' ? Infinity : this.clock();
  }

  /** Every operation so far; any still pending count as unknown. */
  operations(): Operation[] {
    return this.ops;
  }
}

/** Writes a history as JSON lines (Infinity as null). */
export function saveHistory(file: string, ops: readonly Operation[]): void {
  const lines = ops.map((op) => JSON.stringify({ ...op, ret: Number.isFinite(op.ret) ? op.ret : null }));
  writeFileSync(file, lines.join('\n') + '\n');
}

export function loadHistory(file: string): Operation[] {
  const ops: Operation[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let raw: Operation & { ret: number | null };
      try {
        raw = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not a JSON object (${(e as Error).message})`);
      }
      ops.push({ ...raw, ret: raw.ret === null ? Infinity : raw.ret });
    });
  return ops;
}
