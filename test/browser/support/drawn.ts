// What a page draws, read through its test hook, and the relay's picture in the same notation,
// so that a page left open, a fresh page and the relay can be compared.
import type { Page } from 'playwright-core';
import type { PeerView } from '../../../shared/village.ts';

export interface Drawn {
  peers: Array<{ name: string; look: string; term: number; fenced: boolean }>;
  /** The log table: per villager, "index:term" + "c" (solid, committed) or "o" (outlined). */
  rows: Record<string, string[]>;
  board: string[];
}

export const drawnOf = (page: Page): Promise<Drawn> =>
  page.evaluate(() => ({
    peers: window.__village!.peers().map((p) => ({ name: p.name, look: p.look, term: p.term, fenced: p.fenced })),
    rows: window.__village!.logRows(),
    board: window.__village!.board(),
  }));

/** A peer's log as the relay holds it, in the page's notation, for the indexes a drawn row shows. */
export function relayRow(p: Pick<PeerView, 'log' | 'commitIndex'>, shown: readonly string[]): string[] {
  const indexes = new Set(shown.map((c) => Number(c.split(':')[0])));
  return p.log.filter((t) => indexes.has(t.index)).map((t) => `${t.index}:${t.term}${t.index <= p.commitIndex ? 'c' : 'o'}`);
}

/** Where two drawings differ, in a line or two (empty when they agree). */
export function differences(a: Drawn, b: Drawn): string[] {
  const out: string[] = [];
  if (JSON.stringify(a.peers) !== JSON.stringify(b.peers)) out.push(`villagers: ${JSON.stringify(a.peers)} vs ${JSON.stringify(b.peers)}`);
  for (const name of new Set([...Object.keys(a.rows), ...Object.keys(b.rows)])) {
    const x = JSON.stringify(a.rows[name] ?? []);
    const y = JSON.stringify(b.rows[name] ?? []);
    if (x !== y) out.push(`log of ${name}: ${x} vs ${y}`);
  }
  if (JSON.stringify(a.board) !== JSON.stringify(b.board)) out.push(`board: ${JSON.stringify(a.board)} vs ${JSON.stringify(b.board)}`);
  return out;
}
