// What a snapshot's data holds (the Raft core treats it as an opaque string): the key-value
// store and its client sessions as of the snapshot's index, and the prefix hash of the log
// through that index (shared/log-hash.ts) when the peer that took it knows it (with -v), so
// that a peer installing it can go on reporting its log to the safety monitor.
//
// Encoding: "kv1:" then base64 of the gzip of one JSON object
//   {"applied":5000,"ph":8817300264209113,"data":[["x",100],...],"sessions":[["c1",3,4990,{...}],...]}
// Base64 keeps InstallSnapshot chunks free of JSON escapes (one character is one byte on the
// wire, so a chunk of max_bytes_per_append characters fits its frame whatever the store holds),
// and gzip more than pays for base64's third. gzip's own CRC guards the content beyond the
// snapshot file's checksum.
//
// Taking a snapshot must not hold up the event loop for long: the store is copied shallowly at
// once (KvStore.image, a Map copy), its JSON is built in slices (10,000 keys, or about 1 MiB of
// keys and values when they are big) with a turn of the event loop between them, each slice streamed into gzip, which runs in the thread pool. Decoding (at start, or when a leader's snapshot is
// installed) is synchronous: the store must be whole before the next entry is applied.
import { once } from 'node:events';
import * as zlib from 'node:zlib';
import type { KvValue } from '../shared/kv-commands.ts';
import type { ApplyOutcome, StoreImage } from './kv.ts';

const PREFIX = 'kv1:';
/** Keys (or sessions) turned into JSON per turn of the event loop, at most... */
const SLICE = 10_000;
/** ...and about this many characters of keys and values: a store of few big values is sliced too. */
export const SLICE_CHARS = 1 << 20;

export interface SnapshotState {
  image: StoreImage;
  /** Prefix hash of the log through the snapshot's index; null when the taker did not know it. */
  ph: number | null;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Encodes a snapshot's state; yields to the event loop between slices. */
export async function encodeSnapshotState(state: SnapshotState): Promise<string> {
  // Each slice of JSON goes into a gzip stream at once: no string of the whole state is built.
  const gz = zlib.createGzip({ level: 1 });
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  const write = async (text: string) => {
    if (!gz.write(text)) await once(gz, 'drain');
  };
  await write(`{"applied":${state.image.applied},"ph":${state.ph === null ? 'null' : state.ph},"data":[`);
  await sliced(state.image.data.entries(), write);
  await write('],"sessions":[');
  await sliced(state.image.sessions.values(), write);
  gz.end(']}');
  await done;
  return PREFIX + Buffer.concat(out).toString('base64');
}

async function sliced(items: Iterator<unknown>, write: (text: string) => Promise<void>): Promise<void> {
  let first = true;
  for (;;) {
    const slice: unknown[] = [];
    let chars = 0;
    while (slice.length < SLICE && chars < SLICE_CHARS) {
      const r = items.next();
      if (r.done) break;
      slice.push(r.value);
      chars += roughChars(r.value);
    }
    if (slice.length === 0) return;
    const json = JSON.stringify(slice);
    await write(first ? json.slice(1, -1) : `,${json.slice(1, -1)}`);
    first = false;
    await turn();
  }
}

/** About the length of x's JSON: its strings' lengths and a little for everything else. */
function roughChars(x: unknown): number {
  if (typeof x === 'string') return x.length + 2;
  if (Array.isArray(x)) {
    let n = 2;
    for (const y of x) n += roughChars(y) + 1;
    return n;
  }
  return 16;
}

/** Decodes a snapshot's data; throws an Error saying what is wrong. */
export function decodeSnapshotState(data: string): SnapshotState {
  if (!data.startsWith(PREFIX)) throw new Error(`snapshot data does not start with "${PREFIX}"`);
  let text: string;
  try {
    text = zlib.gunzipSync(Buffer.from(data.slice(PREFIX.length), 'base64')).toString('utf8');
  } catch (e) {
    throw new Error(`snapshot data does not unzip (${(e as Error).message})`);
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new Error('snapshot data is not JSON');
  }
  const r = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
  const applied = r.applied;
  if (typeof applied !== 'number' || !Number.isSafeInteger(applied) || applied < 0) throw new Error('snapshot data has no applied index');
  if (!(r.ph === null || (typeof r.ph === 'number' && Number.isFinite(r.ph)))) throw new Error('snapshot data has a malformed ph');
  if (!Array.isArray(r.data) || !Array.isArray(r.sessions)) throw new Error('snapshot data lacks its keys or sessions');
  for (const kv of r.data as unknown[]) {
    if (!Array.isArray(kv) || kv.length !== 2 || typeof kv[0] !== 'string' || !['string', 'number', 'boolean'].includes(typeof kv[1])) {
      throw new Error(`snapshot data holds a malformed key ${JSON.stringify(kv).slice(0, 60)}`);
    }
  }
  for (const s of r.sessions as unknown[]) {
    if (!Array.isArray(s) || s.length !== 4 || typeof s[0] !== 'string' || !Number.isSafeInteger(s[1]) || !Number.isSafeInteger(s[2]) || !isOutcome(s[3])) {
      throw new Error(`snapshot data holds a malformed session ${JSON.stringify(s).slice(0, 60)}`);
    }
  }
  return { image: { applied, data: new Map(r.data as [string, KvValue][]), sessions: r.sessions as StoreImage['sessions'] }, ph: r.ph as number | null };
}

function isOutcome(v: unknown): v is ApplyOutcome {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (o.ok === true) return 'value' in o && (o.key === null || typeof o.key === 'string');
  return o.ok === false && o.error === 'bad_command' && typeof o.message === 'string';
}
