// The HUD's line about the laws of Raft, from the relay's safety monitor verdict: what was
// checked, what could not be (blind peers, peers that send none of the monitor's fields), and
// a broken law. Pure, so it is tested without a canvas; it never claims a check the relay did not
// report as made.
import type { VillageModel } from '../model.ts';

export type LawsTone = 'hold' | 'partial' | 'broken' | 'unknown';

export function lawsLine(model: Pick<VillageModel, 'laws' | 'peers'>): { text: string; tone: LawsTone } {
  const laws = model.laws;
  if (!laws) return { text: 'laws: not watched (this relay runs no safety monitor)', tone: 'unknown' };
  const parts: string[] = [];
  let tone: LawsTone;
  if (laws.violationCount > 0) {
    const first = laws.violations[0];
    const more = laws.violationCount > 1 ? ` (+${laws.violationCount - 1} more)` : '';
    parts.push(`LAW BROKEN: ${first ? first.name : 'a law of Raft'}${more}`, `${laws.eventsChecked} events checked`);
    tone = 'broken';
  } else if (laws.eventsChecked === 0) {
    parts.push(laws.eventsSeen === 0 ? 'laws: no events yet' : `laws: nothing checked yet (${laws.eventsSeen} events seen)`);
    tone = 'unknown';
  } else {
    parts.push('laws hold', `${laws.eventsChecked} events checked`);
    tone = 'hold';
  }
  const unnumbered = laws.blind.filter((b) => !b.numbered).map((b) => b.peer);
  const blind = laws.blind.filter((b) => b.numbered);
  const reporting = [...model.peers.values()].filter((p) => p.reporting).map((p) => p.name);
  if (unnumbered.length > 0) {
    const all = reporting.length > 0 && reporting.every((p) => unnumbered.includes(p));
    parts.push(all ? "no peer sends the monitor's fields yet: missing events cannot be told" : `no monitor fields from ${unnumbered.join(', ')}`);
  }
  if (blind.length > 0) parts.push(`blind: ${blind.map((b) => `${b.peer} since event ${b.sinceSeq}`).join(', ')}`);
  if (tone === 'hold' && laws.blind.length > 0) tone = 'partial';
  return { text: parts.join(' · '), tone };
}
