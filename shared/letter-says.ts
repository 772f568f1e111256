// What a letter says beyond its kind and term: the small numbers of its RPC that the -v events
// carry (shared/events.ts RpcSummary), read defensively from an event (a field of the wrong type
// is left out, never trusted). The letter panel shows them; the model keeps them on each Flight.
import type { RpcSummary } from './events.ts';

export const SAID_FIELDS = ['lastLogIndex', 'lastLogTerm', 'prevLogIndex', 'prevLogTerm', 'leaderCommit', 'matchIndex', 'conflictIndex', 'conflictTerm'] as const;

export type SaidField = (typeof SAID_FIELDS)[number];
export type LetterSays = Partial<Pick<RpcSummary, SaidField>>;

export function letterSays(s: object): LetterSays {
  const out: LetterSays = {};
  const o = s as Record<string, unknown>;
  for (const k of SAID_FIELDS) {
    const v = o[k];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) out[k] = v;
  }
  return out;
}
