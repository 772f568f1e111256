// The relay's safety watch: runs the safety monitor (monitor/) over every validated peer event,
// in each peer's arrival order, and tells what it finds.
//
// - The picture's `laws` part: events checked, blind peers, violations. A `laws` delta goes out
//   when something changed, at most once every `throttleMs` (not one per event): the counts of a
//   busy village change on almost every event.
// - A violation, at once: its evidence to a file in the relay's log directory (evidence.ts), a
//   line on the relay's console, and an error line in every browser's console panel.
// - The first violation: `firstViolation` (the relay pauses the village clock, if it offers one).
//
// No sockets; time and files come in as functions, so test/game/relay-laws.test.ts runs it with
// a clock turned by hand.
import type { PeerEvent } from '../../shared/events.ts';
import type { LawBlind, LawsStatus, LawViolation } from '../../shared/village.ts';
import { LAWS, type Violation } from './monitor/laws.ts';
import { createMonitor, type Monitor, type MonitorStatus } from './monitor/monitor.ts';

/** Evidence files written per relay run at most; later violations are still counted and shown. */
export const MAX_EVIDENCE_FILES = 100;

export interface LawWatchOptions {
  /** Default: a monitor with its default windows. */
  monitor?: Monitor;
  /** Hands the laws part to the picture (Picture.setLaws). */
  publish(status: LawsStatus, added: LawViolation[]): void;
  /** Writes a violation's evidence and returns the file's path (evidence.ts); throws on failure. Null: no files. */
  save: ((v: Violation, n: number, status: MonitorStatus) => string) | null;
  /** A line for every browser's console panel (an error line). */
  say(line: string): void;
  /** A line on the relay's own console. */
  log(line: string): void;
  /** Wall clock (ms): when a violation was seen. */
  now(): number;
  /** A monotonic clock (ms) and a timer, for the throttle. */
  monotonic(): number;
  after(ms: number, fn: () => void): () => void;
  /** Least time between two `laws` deltas (default 250 ms). */
  throttleMs?: number;
  /** Called once, after the first violation is told (the relay pauses the village on it). */
  firstViolation?(): void;
}

export class LawWatch {
  readonly monitor: Monitor;
  private readonly throttleMs: number;
  private violations = 0;
  private files = 0;
  private added: LawViolation[] = [];
  private lastPublish = -Infinity;
  private cancel: (() => void) | null = null;
  private closed = false;
  /** What the last `laws` delta said, to skip one that would say the same. */
  private lastSaid = '';

  constructor(private readonly o: LawWatchOptions) {
    this.monitor = o.monitor ?? createMonitor();
    this.throttleMs = o.throttleMs ?? 250;
  }

  /** One validated event of a peer's current stream, in the order it arrived. */
  observe(e: PeerEvent): void {
    const found = this.monitor.observe(e, this.o.now());
    for (const v of found) this.violation(v);
    this.publishSoon();
  }

  /** No more `laws` deltas (the relay is closing). */
  close(): void {
    this.closed = true;
    this.cancel?.();
    this.cancel = null;
  }

  /** The laws part as it would be published now. */
  status(): LawsStatus {
    const st = this.monitor.status();
    return { eventsSeen: st.eventsSeen, eventsChecked: st.eventsChecked, violationCount: st.violationCount, blind: st.blind.map(blindView) };
  }

  private violation(v: Violation): void {
    const n = ++this.violations;
    const law = LAWS[v.law];
    let file: string | null = null;
    if (this.o.save && this.files < MAX_EVIDENCE_FILES) {
      try {
        file = this.o.save(v, n, this.monitor.status());
        this.files++;
      } catch (e) {
        this.o.log(`could not write the evidence of violation ${n} (${law.name}): ${(e as Error).message}`);
      }
      if (this.files === MAX_EVIDENCE_FILES) this.o.log(`${MAX_EVIDENCE_FILES} evidence files written; later violations are counted and shown, but not written`);
    }
    this.o.log(`LAW BROKEN: ${law.name}. ${v.message}${file ? ` Evidence: ${file}` : ''}`);
    this.o.say(`law broken: ${law.name}. ${v.message}`);
    this.added.push({
      n,
      law: v.law,
      name: law.name,
      statement: v.statement,
      message: v.message,
      peers: v.peers,
      indexes: v.indexes,
      terms: v.terms,
      evidence: v.evidence.map((e) => ({ peer: e.peer, seq: e.seq, boot: e.boot, type: e.type, t: e.t, said: e.said })),
      at: v.at,
      file,
    });
    if (n === 1) this.o.firstViolation?.();
  }

  private publishSoon(): void {
    if (this.cancel || this.closed) return;
    const wait = Math.max(0, this.lastPublish + this.throttleMs - this.o.monotonic());
    this.cancel = this.o.after(wait, () => {
      this.cancel = null;
      if (!this.closed) this.publish();
    });
  }

  private publish(): void {
    this.lastPublish = this.o.monotonic();
    const status = this.status();
    const said = `${status.eventsSeen}|${status.eventsChecked}|${status.violationCount}|${status.blind.map((b) => `${b.peer}:${b.sinceSeq}:${b.numbered}:${b.reason}`).join(',')}`;
    if (said === this.lastSaid && this.added.length === 0) return;
    this.lastSaid = said;
    const added = this.added;
    this.added = [];
    this.o.publish(status, added);
  }
}

function blindView(b: MonitorStatus['blind'][number]): LawBlind {
  return { peer: b.peer, sinceSeq: b.sinceSeq, reason: b.reason, numbered: b.numbered };
}
