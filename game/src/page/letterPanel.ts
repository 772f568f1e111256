// Reading a letter: click one in flight and this panel says what its RPC says — RequestVote
// (term, candidate, lastLogIndex/lastLogTerm), AppendEntries (term, leader, prevLogIndex/
// prevLogTerm, its entries, leaderCommit) and the replies — from the numbers the -v events carry
// (shared/letter-says.ts), and whether it is still in the air, landed or was dropped. The commands an
// AppendEntries carries are not in the events: the panel asks the sender's log for them
// (`inspect` with that range) as the sender holds them now.
//
// Actions on a letter (a later "drop it" while the village clock is paused, say) are
// LetterActions given to the constructor: each says when it applies and what it does; the panel
// shows a button for each one that applies.
import type { Flight, VillageModel } from '../model.ts';
import type { InspectView } from '../../../shared/village.ts';
import type { Command, Reply } from './connection.ts';

export interface LetterAction {
  label: string;
  /** Whether the button is shown for this letter now. */
  applies(f: Flight, model: VillageModel): boolean;
  run(f: Flight): unknown;
}

/** What the panel shows, as the test hook reports it. */
export interface LetterProbe {
  rid: string;
  title: string;
  /** Field name -> text as drawn (term, from, to, prevLogIndex, ...). */
  fields: Record<string, string>;
  /** The commands of an AppendEntries, as fetched from the sender: "index term command". */
  entries: string[];
  /** in the air, landed, dropped (why) */
  state: string;
  actions: string[];
}

const MAX_FETCHED = 200;

export class LetterPanel {
  private flight: Flight | null = null;
  private shownState = '';
  private entries: { text: string[] | null; note: string } = { text: null, note: '' };
  private generation = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly model: VillageModel,
    private readonly send: (cmd: Command) => Promise<Reply>,
    private readonly actions: readonly LetterAction[] = [],
  ) {}

  get openRid(): string | null {
    return this.flight?.rid ?? null;
  }

  /** Opens the panel for the letter `rid` near a page position (CSS px); false when no such letter. */
  open(rid: string, clientX: number, clientY: number): boolean {
    const f = this.model.flights.get(rid);
    if (!f) return false;
    this.generation++;
    // A copy: the model forgets a letter soon after it lands; the panel keeps reading it.
    this.flight = { ...f, said: { ...f.said } };
    this.entries = { text: null, note: '' };
    this.fetchEntries(this.flight);
    this.render();
    this.el.hidden = false;
    const w = this.el.offsetWidth;
    const h = this.el.offsetHeight;
    this.el.style.left = `${Math.max(4, Math.min(clientX + 12, window.innerWidth - w - 4))}px`;
    this.el.style.top = `${Math.max(4, Math.min(clientY + 12, window.innerHeight - h - 4))}px`;
    return true;
  }

  close(): void {
    if (!this.flight) return;
    this.generation++;
    this.flight = null;
    this.el.hidden = true;
    this.el.replaceChildren();
  }

  /** Called every frame: follows the letter (in the air, landed, dropped); cheap when nothing changed. */
  refresh(): void {
    const f = this.flight;
    if (!f) return;
    const now = this.model.flights.get(f.rid);
    if (now) {
      f.landedAt = now.landedAt;
      f.vanishedAt = now.vanishedAt;
      f.vanishReason = now.vanishReason;
    }
    if (stateOf(f) + this.actionKey(f) !== this.shownState) this.render();
  }

  probe(): LetterProbe | null {
    const f = this.flight;
    if (!f || this.el.hidden) return null;
    const fields: Record<string, string> = {};
    for (const row of this.el.querySelectorAll('.letter-fields tr')) fields[row.querySelector('th')?.textContent ?? ''] = row.querySelector('td')?.textContent ?? '';
    return {
      rid: f.rid,
      title: this.el.querySelector('.letter-title')?.textContent ?? '',
      fields,
      entries: [...this.el.querySelectorAll('.letter-entries li')].map((li) => li.textContent ?? ''),
      state: this.el.querySelector('.letter-state')?.textContent ?? '',
      actions: [...this.el.querySelectorAll('.letter-actions button')].map((b) => b.textContent ?? ''),
    };
  }

  private actionKey(f: Flight): string {
    return this.actions.map((a) => (a.applies(f, this.model) ? '1' : '0')).join('');
  }

  /** An AppendEntries with entries: they are prevLogIndex + 1 .. + entries of the sender's log. */
  private fetchEntries(f: Flight): void {
    const prev = f.said.prevLogIndex;
    if (f.rpc !== 'append_entries' || f.entries === 0 || prev === undefined) return;
    const from = prev + 1;
    const to = prev + Math.min(f.entries, MAX_FETCHED);
    const gen = this.generation;
    this.entries = { text: null, note: `asking ${f.from} for entries ${from}..${to}…` };
    void this.send({ type: 'inspect', peer: f.from, log: { from, to } }).then((r) => {
      if (gen !== this.generation) return;
      const v = r.value as InspectView | undefined;
      if (!r.ok || !v || !Array.isArray(v.log?.entries)) {
        this.entries = { text: null, note: `could not read them from ${f.from}: ${r.text}` };
      } else {
        // Only the entries that are still what the letter carried (same place; the term may have moved on if overwritten).
        const got = v.log.entries.filter((e) => e.index >= from && e.index <= to);
        const missing = to - from + 1 - got.length;
        this.entries = {
          text: got.map((e) => `${e.index}  t${e.term}  ${e.command}`),
          note: `as ${f.from}'s log holds them now${missing > 0 ? ` (${missing} no longer there)` : ''}${f.entries > MAX_FETCHED ? ` (first ${MAX_FETCHED} of ${f.entries})` : ''}`,
        };
      }
      this.render();
    });
  }

  private render(): void {
    const f = this.flight;
    if (!f) return;
    const state = stateOf(f);
    this.shownState = state + this.actionKey(f);
    const title = el('div', 'letter-title', titleOf(f));
    const fields = el('table', 'letter-fields');
    for (const [name, value] of fieldsOf(f)) {
      const tr = el('tr', '');
      tr.append(el('th', '', name), el('td', '', value));
      fields.append(tr);
    }
    const parts: Node[] = [title, fields];
    if (this.entries.text || this.entries.note) {
      const box = el('div', 'letter-entries-box');
      if (this.entries.note) box.append(el('div', 'letter-note', this.entries.note));
      if (this.entries.text) {
        const ol = el('ul', 'letter-entries');
        for (const t of this.entries.text) ol.append(el('li', '', t));
        box.append(ol);
      }
      parts.push(box);
    }
    parts.push(el('div', 'letter-state', state));
    const bar = el('div', 'letter-actions');
    for (const a of this.actions) {
      if (!a.applies(f, this.model)) continue;
      const b = el('button', '', a.label) as HTMLButtonElement;
      b.type = 'button';
      b.addEventListener('click', () => void a.run(f));
      bar.append(b);
    }
    const close = el('button', 'letter-close', 'Close') as HTMLButtonElement;
    close.type = 'button';
    close.addEventListener('click', () => this.close());
    bar.append(close);
    parts.push(bar);
    this.el.replaceChildren(...parts);
  }
}

function titleOf(f: Flight): string {
  const vote = f.preVote ? 'PreVote' : 'RequestVote';
  switch (f.rpc) {
    case 'request_vote':
      return `${vote} ${f.from} → ${f.to}`;
    case 'request_vote_reply':
      return `${vote} reply ${f.from} → ${f.to}`;
    case 'append_entries':
      return `AppendEntries${f.heartbeat ? ' (heartbeat)' : ''} ${f.from} → ${f.to}`;
    case 'append_entries_reply':
      return `AppendEntries reply ${f.from} → ${f.to}`;
    case 'timeout_now':
      return `TimeoutNow ${f.from} → ${f.to}`;
    default:
      return `${String(f.rpc)} ${f.from} → ${f.to}`;
  }
}

/** The RPC's arguments or results under Figure 2's names; a number the event did not carry reads "?". */
function fieldsOf(f: Flight): [string, string][] {
  const n = (v: number | undefined) => (v === undefined ? '?' : String(v));
  const s = f.said;
  const out: [string, string][] = [['term', String(f.term)]];
  switch (f.rpc) {
    case 'request_vote':
      out.push(['candidateId', f.from], ['lastLogIndex', n(s.lastLogIndex)], ['lastLogTerm', n(s.lastLogTerm)]);
      break;
    case 'request_vote_reply':
      out.push(['voteGranted', f.ok === null ? '?' : String(f.ok)]);
      break;
    case 'append_entries': {
      const first = s.prevLogIndex === undefined ? '?' : String(s.prevLogIndex + 1);
      const last = s.prevLogIndex === undefined ? '?' : String(s.prevLogIndex + f.entries);
      out.push(
        ['leaderId', f.from],
        ['prevLogIndex', n(s.prevLogIndex)],
        ['prevLogTerm', n(s.prevLogTerm)],
        ['entries', f.entries === 0 ? '0 (heartbeat)' : `${f.entries} (${first}..${last})`],
        ['leaderCommit', n(s.leaderCommit)],
      );
      break;
    }
    case 'append_entries_reply':
      out.push(['success', f.ok === null ? '?' : String(f.ok)], ['matchIndex', n(s.matchIndex)]);
      if (s.conflictIndex !== undefined) out.push(['conflictIndex', String(s.conflictIndex)]);
      if (s.conflictTerm !== undefined) out.push(['conflictTerm', String(s.conflictTerm)]);
      break;
    default:
      break;
  }
  // Under load the relay sends at most one letter of each kind per path every 40 ms: this one stands for those left out since the one before.
  if (f.more) out.push(['stands for', `${f.more + 1} ${f.rpc} letters (${f.more} more sent within 40 ms, not drawn)`]);
  return out;
}

function stateOf(f: Flight): string {
  if (f.landedAt !== null) return `landed at ${f.to}`;
  if (f.vanishedAt !== null) return f.vanishReason === 'lost' ? 'never heard landing (lost?)' : `dropped (${f.vanishReason ?? 'dropped'})`;
  return 'in the air';
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
