// Short hashes of log entries and of log prefixes, so that a reader of the -v events (the
// safety monitor) can compare two peers' logs without seeing the logs themselves.
//
//   entryHash(data)            32 bits: the entry's command as stored in the log (Entry.data,
//                              the JSON-encoded command with its client session), or the no-op.
//   prefixHash(prev, term, h)  53 bits: ph(i) = prefixHash(ph(i-1), term_i, entryHash_i),
//                              with ph(0) = EMPTY_PREFIX. Equal ph(i) means, but for a hash
//                              collision (about 2^-53 per comparison), equal logs 1..i.
//
// A peer keeps ph of the entries it holds (one number per entry, or from its snapshot's base on)
// and reports them with the entries, the commit index, its durable state and its snapshot
// (PROTOCOL.md, "Fields the monitor reads"). Log Matching then becomes: two reports of the same
// (index, term) carry the same ph. Both functions are plain integer arithmetic on JS numbers,
// with no allocation: cheap enough to run on every append.
import { fmix32 } from './random.ts';

/** ph(0): the prefix hash of the empty log. */
export const EMPTY_PREFIX = 0;

const TWO_32 = 4294967296;
/** The prefix hash keeps 21 bits of its second lane: 32 + 21 = 53 bits, exact in a double. */
const HIGH_MASK = 0x1fffff;


/** One murmur3 block step: mixes the 32-bit word k into the state h. */
function round(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The hash of the no-op a new leader appends (data null). */
const NOOP_HASH = fmix32(0x6e6f6f70);

/**
 * 32-bit hash of an entry's data: FNV-1a over its UTF-16 code units, finished with fmix32.
 * null (a leader's no-op) has its own fixed value.
 */
export function entryHash(data: string | null): number {
  if (data === null) return NOOP_HASH;
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h ^ data.length);
}

/**
 * The prefix hash through entry i, from the prefix hash through entry i-1 and entry i's term
 * and entryHash. Two independent 32-bit lanes; the result is an integer in [0, 2^53).
 */
export function prefixHash(prev: number, term: number, entry: number): number {
  const lo = prev >>> 0;
  const hi = Math.floor(prev / TWO_32) >>> 0;
  let a = 0x243f6a88;
  a = round(a, lo);
  a = round(a, hi);
  a = round(a, term >>> 0);
  a = round(a, entry >>> 0);
  let b = 0x85a308d3;
  b = round(b, entry >>> 0);
  b = round(b, term >>> 0);
  b = round(b, hi ^ 0x13198a2e);
  b = round(b, lo ^ 0x03707344);
  const low = fmix32(a ^ 16);
  const high = fmix32(b ^ 16) & HIGH_MASK;
  return high * TWO_32 + low;
}

/** ph of each entry in turn, starting after the prefix hash `prev` (of the entry before the first). */
export function prefixHashes(prev: number, entries: readonly { term: number; data: string | null }[]): number[] {
  const out = new Array<number>(entries.length);
  let ph = prev;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    ph = prefixHash(ph, e.term, entryHash(e.data));
    out[i] = ph;
  }
  return out;
}

/** A prefix hash as people read it in evidence: 14 hex digits. */
export function formatPrefixHash(ph: number): string {
  return ph.toString(16).padStart(14, '0');
}

/** An entry hash as people read it in evidence: 8 hex digits. */
export function formatEntryHash(h: number): string {
  return h.toString(16).padStart(8, '0');
}
