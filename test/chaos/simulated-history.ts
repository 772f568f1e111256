// Builds histories of a correct (linearizable) store with a seeded random schedule, for the
// checker's tests: concurrent clients, each operation taking effect at one instant inside its
// interval, some with unknown outcomes (taking effect or not).
import type { KvInput, Operation, Value } from './history.ts';
import { mulberry32 } from '../../shared/random.ts';

export interface SimOptions {
  seed: number;
  operations: number;
  clients: number;
  key?: string;
  /** Share of operations whose outcome the client never learns. */
  unknownRate?: number;
  /** Amounts added; the chaos workload adds 1 only. */
  addAmounts?: number[];
}

export function simulatedHistory(o: SimOptions): Operation[] {
  const rnd = mulberry32(o.seed);
  const key = o.key ?? 'x';
  const unknownRate = o.unknownRate ?? 0.05;
  const addAmounts = o.addAmounts ?? [1, 2, 3];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let nextValue = 1000;
  const recent: Value[] = [0];

  // Intervals first: every client runs one operation at a time.
  type Draft = { op: Operation; at: number; takesEffect: boolean };
  const drafts: Draft[] = [];
  const clock = new Array<number>(o.clients).fill(0);
  for (let id = 0; id < o.operations; id++) {
    const c = id % o.clients;
    const invoke = clock[c]! + rnd() * 3;
    const ret = invoke + 1 + rnd() * 20;
    clock[c] = ret;
    const r = rnd();
    let input: KvInput;
    if (r < 0.3) input = { f: 'add', n: pick(addAmounts) };
    else if (r < 0.55) input = { f: 'get' };
    else if (r < 0.75) {
      const v = nextValue++;
      recent.push(v);
      input = { f: 'set', value: v };
    } else if (r < 0.95) input = { f: 'cas', from: pick(recent.slice(-4)), to: nextValue++ };
    else input = { f: 'del' };
    const unknown = rnd() < unknownRate;
    drafts.push({
      op: { id, client: `c${c}`, key, input, invoke, ret: unknown ? Infinity : ret, outcome: unknown ? { type: 'unknown', error: 'timeout' } : { type: 'ok', value: null } },
      at: invoke + rnd() * (ret - invoke),
      takesEffect: !unknown || rnd() < 0.5,
    });
  }

  // Then the store: apply in the order of the instants at which the operations take effect.
  let value: Value = null;
  for (const d of [...drafts].sort((x, y) => x.at - y.at)) {
    if (!d.takesEffect) continue;
    const input = d.op.input;
    let result: Value;
    switch (input.f) {
      case 'set':
        value = input.value;
        result = value;
        break;
      case 'add':
        value = (typeof value === 'number' ? value : 0) + input.n;
        result = value;
        break;
      case 'get':
        result = value;
        break;
      case 'del':
        result = value;
        value = null;
        break;
      case 'cas':
        result = value === input.from;
        if (result) value = input.to;
        break;
    }
    if (d.op.outcome.type === 'ok') d.op.outcome = { type: 'ok', value: result };
    if (typeof value === 'number' && !recent.includes(value)) recent.push(value);
  }
  return drafts.map((d) => d.op);
}
