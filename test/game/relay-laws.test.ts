// The relay's safety watch: the monitor over every peer event, its verdict in the picture (a
// `laws` part, a throttled delta), and a broken law said at once: an evidence file in the log
// directory, a line on the relay's console, an error line for the browsers. First the unit with a
// clock turned by hand, then the whole relay with peers and a browser on real sockets.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import type { Delta, LawsStatus, LawViolation, RelayToBrowser } from '../../shared/village.ts';
import { evidenceFileName, writeEvidence } from '../../game/relay/evidence.ts';
import { LawWatch } from '../../game/relay/law-watch.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import { Picture } from '../../game/relay/picture.ts';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import { FakePeer as StreamWriter } from '../monitor/fake-peer.ts';
import { browser, fakePeerSocket, PeerStreams, testConfig, until, type Recorder } from './relay-support.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'relay-laws-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A hand-turned clock: advance(ms) runs the timers that fall due. */
class Clock {
  t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  after = (ms: number, fn: () => void): (() => void) => {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((x) => x !== timer));
  };
  monotonic = (): number => this.t;
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
    this.t = end;
  }
}

function watch(opts: { save?: ((v: Violation, n: number) => string) | null; firstViolation?: () => void } = {}) {
  const clock = new Clock();
  const published: { status: LawsStatus; added: LawViolation[] }[] = [];
  const said: string[] = [];
  const logged: string[] = [];
  const saved: Violation[] = [];
  const w = new LawWatch({
    publish: (status, added) => published.push({ status, added }),
    save:
      opts.save === null
        ? null
        : (v, n) => {
            saved.push(v);
            return opts.save ? opts.save(v, n) : `/logs/violation-${n}.json`;
          },
    say: (line) => said.push(line),
    log: (line) => logged.push(line),
    now: () => 1_800_000_000_000 + clock.t,
    monotonic: clock.monotonic,
    after: clock.after,
    throttleMs: 250,
    ...(opts.firstViolation ? { firstViolation: opts.firstViolation } : {}),
  });
  return { w, clock, published, said, logged, saved };
}

/** Two peers that both win term 1: Election Safety broken. */
function twoLeaders(): PeerEvent[] {
  const p1 = new StreamWriter('peer1');
  const p2 = new StreamWriter('peer2');
  return [p1.hello(), p2.hello(), ...p1.campaign(1), ...p1.lead(), ...p2.campaign(1), ...p2.lead()];
}

/** A clean village: peer1 leads term 1, peer2 and peer3 follow, commands are committed and applied. */
function cleanVillage(commands: number): PeerEvent[] {
  const [p1, p2, p3] = ['peer1', 'peer2', 'peer3'].map((n) => new StreamWriter(n)) as [StreamWriter, StreamWriter, StreamWriter];
  const out: PeerEvent[] = [p1.hello(), p2.hello(), p3.hello(), ...p1.campaign(1), ...p2.grantVote(1, 'peer1'), ...p3.grantVote(1, 'peer1'), ...p1.lead()];
  for (let i = 0; i < commands; i++) {
    out.push(...p1.propose([`k${i}`, 'add', '1']), ...p2.follow(p1), ...p3.follow(p1), ...p1.commitTo(p1.lastIndex));
    out.push(p1.apply(p1.lastIndex, p1.lastIndex), p2.apply(p1.lastIndex, p1.lastIndex), p3.apply(p1.lastIndex, p1.lastIndex));
  }
  return out;
}

describe('the safety watch (law-watch.ts)', () => {
  it('publishes the counts at most once per throttle period, not once per event', () => {
    const { w, clock, published } = watch();
    const events = cleanVillage(30);
    for (const e of events) {
      w.observe(e);
      clock.advance(1);
    }
    clock.advance(300);
    // One delta per 250 ms at most: the whole stream took about events.length ms.
    expect(published.length).toBeLessThanOrEqual(Math.ceil(events.length / 250) + 1);
    expect(published.length).toBeGreaterThan(0);
    const last = published.at(-1)!.status;
    expect(last.eventsSeen).toBe(events.length);
    expect(last.eventsChecked).toBe(w.monitor.status().eventsChecked);
    expect(last.eventsChecked).toBeGreaterThan(0);
    expect(last.violationCount).toBe(0);
    expect(last.blind).toEqual([]);
    expect(published.flatMap((p) => p.added)).toEqual([]);
  });

  it('publishes nothing when nothing changed', () => {
    const { w, clock, published } = watch();
    for (const e of cleanVillage(1)) w.observe(e);
    clock.advance(1000);
    const n = published.length;
    clock.advance(5000);
    expect(published.length).toBe(n);
  });

  it('on a violation: saves the evidence, says it on both consoles, and the next delta carries it, numbered', () => {
    const { w, clock, published, said, logged, saved } = watch();
    for (const e of twoLeaders()) w.observe(e);
    expect(saved.map((v) => v.law)).toEqual(['election_safety']);
    expect(logged).toEqual(['LAW BROKEN: Election Safety. peer1 and peer2 were both leaders in term 1. Evidence: /logs/violation-1.json']);
    expect(said).toEqual(['law broken: Election Safety. peer1 and peer2 were both leaders in term 1.']);
    clock.advance(250);
    const added = published.flatMap((p) => p.added);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      n: 1,
      law: 'election_safety',
      name: 'Election Safety',
      statement: 'At most one leader can be elected in a given term.',
      peers: ['peer1', 'peer2'],
      terms: [1],
      file: '/logs/violation-1.json',
    });
    expect(added[0]!.evidence.map((e) => e.peer)).toEqual(['peer1', 'peer2']);
    expect(published.at(-1)!.status.violationCount).toBe(1);
  });

  it('tells of the first violation once (after saying it), not of later ones, and not of a clean village', () => {
    const calls: number[] = [];
    const { w } = watch({ firstViolation: () => calls.push(w.status().violationCount) });
    for (const e of cleanVillage(5)) w.observe(e);
    expect(calls).toEqual([]);
    const { w: w2, said } = watch({ firstViolation: () => calls.push(said.length) });
    const [p4, p5] = [new StreamWriter('peer4'), new StreamWriter('peer5')];
    for (const e of [...twoLeaders(), p4.hello(), p5.hello(), ...p4.campaign(2), ...p4.lead(), ...p5.campaign(2), ...p5.lead()]) w2.observe(e);
    expect(w2.status().violationCount).toBeGreaterThan(1);
    expect(calls).toEqual([1]);
  });

  it('when the evidence cannot be written, says why and still tells the browsers', () => {
    const { w, clock, published, logged } = watch({
      save: () => {
        throw new Error('EACCES: permission denied');
      },
    });
    for (const e of twoLeaders()) w.observe(e);
    clock.advance(250);
    expect(logged[0]).toBe('could not write the evidence of violation 1 (Election Safety): EACCES: permission denied');
    expect(logged[1]).toMatch(/^LAW BROKEN: Election Safety\. peer1 and peer2 were both leaders in term 1\.$/);
    expect(published.flatMap((p) => p.added)[0]!.file).toBeNull();
  });

  it('names the peers it is blind for, and whether their events carry seq at all', () => {
    const { w, clock, published } = watch();
    const legacy = { type: 'hello', pid: 1, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 }, peer: 'peer1', t: 1 } as PeerEvent;
    const p2 = new StreamWriter('peer2');
    w.observe(legacy);
    w.observe(p2.hello());
    p2.lose(4);
    w.observe(p2.state({ term: 1 }));
    clock.advance(250);
    expect(published.at(-1)!.status.blind).toEqual([
      { peer: 'peer1', sinceSeq: 0, reason: 'its events carry no seq, so missing events cannot be told', numbered: false },
      { peer: 'peer2', sinceSeq: 0, reason: 'events 0..3 are missing', numbered: true },
    ]);
  });
});

describe('the laws part of the picture', () => {
  it('is in every snapshot, and a laws delta adds only violations the browser does not hold yet', () => {
    const picture = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0 });
    expect(picture.snapshot().laws).toEqual({ eventsSeen: 0, eventsChecked: 0, violationCount: 0, violations: [], blind: [] });
    const v = (n: number): LawViolation => ({ n, law: 'election_safety', name: 'Election Safety', statement: 's', message: 'm', peers: ['peer1'], indexes: [], terms: [1], evidence: [], at: 1, file: null });
    picture.setLaws({ eventsSeen: 10, eventsChecked: 4, violationCount: 1, blind: [] }, [v(1)]);
    const deltas = picture.takeDeltas().deltas.filter((d): d is Extract<Delta, { type: 'laws' }> => d.type === 'laws');
    expect(deltas).toEqual([{ type: 'laws', laws: { eventsSeen: 10, eventsChecked: 4, violationCount: 1, blind: [] }, violations: [v(1)] }]);
    expect(picture.snapshot().laws).toEqual({ eventsSeen: 10, eventsChecked: 4, violationCount: 1, violations: [v(1)], blind: [] });
    // Past the list's length, violations are counted, not listed.
    picture.setLaws({ eventsSeen: 99, eventsChecked: 50, violationCount: 30, blind: [] }, Array.from({ length: 29 }, (_, i) => v(i + 2)));
    expect(picture.snapshot().laws!.violations.map((x) => x.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(picture.snapshot().laws!.violationCount).toBe(30);
  });
});

describe('evidence files', () => {
  it('one JSON file per violation, named with the time and the law, holding the law and the events', () => {
    const dir = join(tempDir(), 'logs');
    const v: Violation = {
      law: 'state_machine_safety',
      statement: 'If a peer has applied a log entry at a given index, no other peer ever applies a different entry at that index.',
      message: 'peer1 applied x at index 4, peer2 applied y.',
      peers: ['peer1', 'peer2'],
      indexes: [4],
      terms: [2],
      evidence: [
        { peer: 'peer1', seq: 10, boot: 'b1', type: 'apply', t: 1_800_000_000_000, said: 'applied 4: x' },
        { peer: 'peer2', seq: 12, boot: 'b2', type: 'apply', t: 1_800_000_000_001, said: 'applied 4: y' },
      ],
      at: Date.UTC(2026, 4, 1, 12, 0, 0, 123),
    };
    const file = writeEvidence(dir, v, 3, { eventsSeen: 100, eventsChecked: 40, blind: [] });
    expect(file).toBe(join(dir, 'violation-2026-05-01T12-00-00.123Z-state_machine_safety-3.json'));
    expect(evidenceFileName(v, 3)).toBe('violation-2026-05-01T12-00-00.123Z-state_machine_safety-3.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc).toMatchObject({
      violation: 3,
      law: 'state_machine_safety',
      name: 'State Machine Safety',
      statement: v.statement,
      source: 'Raft paper, Figure 3 and §5.4.3',
      message: v.message,
      peers: ['peer1', 'peer2'],
      indexes: [4],
      terms: [2],
      seenAt: '2026-05-01T12:00:00.123Z',
      monitor: { eventsSeen: 100, eventsChecked: 40, blind: [] },
    });
    expect(doc.evidence.map((e: { peer: string; seq: number; said: string }) => [e.peer, e.seq, e.said])).toEqual([
      ['peer1', 10, 'applied 4: x'],
      ['peer2', 12, 'applied 4: y'],
    ]);
    // Never overwritten.
    expect(() => writeEvidence(dir, v, 3, { eventsSeen: 0, eventsChecked: 0, blind: [] })).toThrow(/EEXIST/);
  });
});

describe('the relay runs the monitor over its peers\' streams', () => {
  let relay: Relay | null = null;
  const sockets: Recorder[] = [];
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const c of closers.splice(0)) c();
    await relay?.close();
    relay = null;
  });

  async function start(evidenceDir: string, lines: string[], clock = true): Promise<Relay> {
    relay = await startRelay({
      clock,
      config: testConfig({ peers: 3 }),
      port: 0,
      attacks: false,
      distDir: '/nonexistent',
      evidenceDir,
      lawsThrottleMs: 100,
      kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'bad_command', message: 'none' }), leader: () => null, close() {} }),
      admin: async () => ({ type: 'error', error: 'bad_frame', message: 'no admin here' }),
      log: (line) => lines.push(line),
    });
    return relay;
  }

  const lawsOf = (b: Recorder<RelayToBrowser>) =>
    b.messages.flatMap((m) => (m.type === 'batch' ? m.deltas.filter((d): d is Extract<Delta, { type: 'laws' }> => d.type === 'laws') : []));

  it('two leaders in one term: browsers get the violation, the evidence is on disk, the console says it', async () => {
    const dir = join(tempDir(), 'logs');
    const lines: string[] = [];
    const r = await start(dir, lines);
    const b = browser(r.port);
    sockets.push(b as Recorder);
    const snap = (await b.next((m) => m.type === 'snapshot')) as Extract<RelayToBrowser, { type: 'snapshot' }>;
    expect(snap.picture.laws).toEqual({ eventsSeen: 0, eventsChecked: 0, violationCount: 0, violations: [], blind: [] });
    const streams = new PeerStreams(r);
    closers.push(() => streams.close());
    await streams.send(twoLeaders());
    await until(() => lawsOf(b).some((d) => d.violations.length > 0), 'a laws delta with the violation');
    const [v] = lawsOf(b).flatMap((d) => d.violations);
    expect(v).toMatchObject({ n: 1, law: 'election_safety', name: 'Election Safety', peers: ['peer1', 'peer2'], terms: [1] });
    expect(v!.file).toMatch(/violation-.*-election_safety-1\.json$/);
    expect(existsSync(v!.file!)).toBe(true);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(JSON.parse(readFileSync(v!.file!, 'utf8')).message).toBe('peer1 and peer2 were both leaders in term 1.');
    expect(lines.filter((l) => l.startsWith('LAW BROKEN'))).toEqual([`LAW BROKEN: Election Safety. peer1 and peer2 were both leaders in term 1. Evidence: ${v!.file}`]);
    await b.next((m) => m.type === 'batch' && m.deltas.some((d) => d.type === 'console' && d.level === 'error' && d.line.startsWith('law broken: Election Safety')));
    // A browser that comes later finds it in its snapshot.
    const late = browser(r.port);
    sockets.push(late as Recorder);
    const lateSnap = (await late.next((m) => m.type === 'snapshot')) as Extract<RelayToBrowser, { type: 'snapshot' }>;
    expect(lateSnap.picture.laws!.violations.map((x) => x.law)).toEqual(['election_safety']);
    expect(lateSnap.picture.laws!.violationCount).toBe(1);
  });

  it('a clean village: the count of events checked grows, few laws deltas, no violation and no file', async () => {
    const dir = join(tempDir(), 'logs');
    const r = await start(dir, []);
    const b = browser(r.port);
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    const events = cleanVillage(40);
    const streams = new PeerStreams(r);
    closers.push(() => streams.close());
    await streams.send(events, { interleave: true });
    await until(() => lawsOf(b).at(-1)?.laws.eventsSeen === events.length, 'the laws delta counting every event');
    const deltas = lawsOf(b);
    const last = deltas.at(-1)!.laws;
    expect(last.eventsChecked).toBeGreaterThan(100);
    expect(last.violationCount).toBe(0);
    expect(last.blind).toEqual([]);
    expect(deltas.length).toBeLessThan(events.length / 10);
    expect(existsSync(dir)).toBe(false);
    expect(r.picture.snapshot().clock).toMatchObject({ offered: true, paused: false, by: null });
  });

  const clockOf = (b: Recorder<RelayToBrowser>) =>
    b.messages.flatMap((m) => (m.type === 'batch' ? m.deltas.filter((d): d is Extract<Delta, { type: 'clock' }> => d.type === 'clock').map((d) => d.clock) : []));

  it('on the first violation the village pauses, by the safety monitor: browsers and peers are told, and it stays paused', async () => {
    const r = await start(join(tempDir(), 'logs'), []);
    const b = browser(r.port);
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    // A third peer's stream, offered the clock running, is told when it pauses.
    const p3 = fakePeerSocket(r.port);
    sockets.push(p3);
    await p3.opened;
    p3.send(new StreamWriter('peer3').hello());
    await p3.next((m) => (m as { type?: string }).type === 'clock');
    expect(p3.messages).toEqual([{ type: 'clock', paused: false, speed: 1 }]);
    const streams = new PeerStreams(r);
    closers.push(() => streams.close());
    await streams.send(twoLeaders());
    await until(() => clockOf(b).some((c) => c.paused), 'a clock delta saying paused');
    await p3.next((m) => (m as { paused?: boolean }).paused === true);
    expect(clockOf(b).find((c) => c.paused)).toMatchObject({ paused: true, by: 'the safety monitor' });
    await b.next((m) => m.type === 'batch' && m.deltas.some((d) => d.type === 'console' && d.line.startsWith('the safety monitor paused the village')));
    expect(r.laws.status().violationCount).toBe(1);
    await new Promise((res) => setTimeout(res, 1000));
    expect(r.clock.paused).toBe(true);
    expect(r.picture.snapshot().clock).toMatchObject({ paused: true, by: 'the safety monitor' });
    expect(clockOf(b).filter((c) => !c.paused)).toEqual([]);
    expect(p3.messages).toEqual([{ type: 'clock', paused: false, speed: 1 }, { type: 'clock', paused: true, speed: 1 }]);
  });

  it('a relay without a clock (--clock off) shows the violation and pauses nothing', async () => {
    const r = await start(join(tempDir(), 'logs'), [], false);
    const b = browser(r.port);
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    const streams = new PeerStreams(r);
    closers.push(() => streams.close());
    await streams.send(twoLeaders());
    await until(() => lawsOf(b).some((d) => d.violations.length > 0), 'a laws delta with the violation');
    await new Promise((res) => setTimeout(res, 300));
    expect(r.clock.paused).toBe(false);
    expect(r.picture.snapshot().clock).toMatchObject({ offered: false, paused: false, by: null });
    expect(clockOf(b)).toEqual([]);
  });
});
