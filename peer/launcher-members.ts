// Whom the cluster launcher starts: the members of the latest configuration its peers recorded.
//
// Every peer writes DIR/members.json when its configuration changes (peer/membership.ts): the
// voters and learners in force and the term and index of the configuration entry that set them.
// The file naming the latest entry (higher term, then higher index: the order of the log of the
// leader that wrote the later one) wins: a peer that missed its own removal keeps an older file.
// Without any file (a new cluster, or data from before membership changes) the members are the
// first N.
// This only decides which processes run; which of them vote is for their logs to say.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PeerAddress } from '../shared/config.ts';
import { parseMembership } from '../shared/membership.ts';
import { MEMBERS_FILE, type MembersRecord } from './membership.ts';

export interface LatestMembers {
  /** Voters and learners, in the ini's order. */
  members: string[];
  record: MembersRecord;
  /** The file it came from. */
  file: string;
}

/** The latest configuration recorded in the data directories of the ini's peers, or null. */
export function latestMembers(config: Config, log: (line: string) => void = () => {}): LatestMembers | null {
  let best: LatestMembers | null = null;
  for (const p of config.peers) {
    const file = join(config.dataDir, p.name, MEMBERS_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no file: this peer never ran, or ran before membership changes existed
    }
    const rec = readRecord(text);
    if (typeof rec === 'string') {
      log(`ignoring ${file}: ${rec}`);
      continue;
    }
    const newer = best === null || rec.term > best.record.term || (rec.term === best.record.term && rec.index > best.record.index);
    if (newer) {
      const named = new Set([...rec.voters, ...rec.learners]);
      best = { members: config.peers.filter((x) => named.has(x.name)).map((x) => x.name), record: rec, file };
    }
  }
  return best;
}

function readRecord(text: string): MembersRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const m = parseMembership(o);
  if (typeof m === 'string') return m;
  const r = o as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!count(r.term) || !count(r.index) || typeof r.peer !== 'string') return 'expected peer, term and index';
  return { peer: r.peer, voters: m.voters, learners: m.learners, term: r.term as number, index: r.index as number };
}

/** The addresses of `names` among the ini's peers, in the ini's order. */
export function addressesOf(config: Config, names: readonly string[]): PeerAddress[] {
  return config.peers.filter((p) => names.includes(p.name));
}
