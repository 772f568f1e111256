// The evidence of a broken law, kept on disk: one JSON file per violation in the relay's log
// directory ([cluster] log_dir), named with the time and the law, so that what the monitor saw
// outlives the run:
//
//   logs/violation-2026-05-01T12-00-00.123Z-election_safety-1.json
//
// The file holds the violation as the monitor reported it (law, plain-words statement, what was
// seen, peers, indexes, terms, and each event it rests on), the law's source in the paper, and
// what the monitor had checked by then.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAWS, type Violation } from './monitor/laws.ts';
import type { MonitorStatus } from './monitor/monitor.ts';

/** The file name for violation number `n` of a law, seen at `at` (wall ms). */
export function evidenceFileName(v: Pick<Violation, 'law' | 'at'>, n: number): string {
  const time = new Date(v.at).toISOString().replace(/:/g, '-');
  return `violation-${time}-${v.law}-${n}.json`;
}

/** What goes into the file. */
export function evidenceDocument(v: Violation, n: number, status: Pick<MonitorStatus, 'eventsSeen' | 'eventsChecked' | 'blind'>): Record<string, unknown> {
  const law = LAWS[v.law];
  return {
    violation: n,
    law: v.law,
    name: law.name,
    statement: v.statement,
    source: law.source,
    message: v.message,
    peers: v.peers,
    indexes: v.indexes,
    terms: v.terms,
    evidence: v.evidence.map((e) => ({ ...e, time: new Date(e.t).toISOString() })),
    seenAt: new Date(v.at).toISOString(),
    monitor: { eventsSeen: status.eventsSeen, eventsChecked: status.eventsChecked, blind: status.blind },
  };
}

/**
 * Writes the evidence file into `dir` (created if missing) and returns its path. Synchronous, so
 * that the path handed to browsers is a file that exists; violations are rare and capped.
 * Throws the file system's error (the caller says it and goes on).
 */
export function writeEvidence(dir: string, v: Violation, n: number, status: Pick<MonitorStatus, 'eventsSeen' | 'eventsChecked' | 'blind'>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, evidenceFileName(v, n));
  writeFileSync(file, `${JSON.stringify(evidenceDocument(v, n, status), null, 2)}\n`, { flag: 'wx' });
  return file;
}
