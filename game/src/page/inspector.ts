// The inspector: a villager's state as Figure 2 of the paper names it — currentTerm, votedFor,
// the log (index, term, command), commitIndex, lastApplied and, on a leader only, nextIndex
// and matchIndex per follower. Opened from the villager menu; plain DOM beside the canvas.
//
// The detail is not in the village's event stream: the panel asks the relay (`inspect`), which
// fetches it from the peer's /admin. While open it asks again when the village's picture of the
// peers changes (a term, a vote, a commit, a new entry), at most every REFRESH_MS, and at least
// every IDLE_REFRESH_MS; one ask at a time. Closing it forgets any answer still on its way.
// Every text from the peer goes in with textContent: a command is user input.
import { DEFAULT_INSPECT_ENTRIES, type InspectView } from '../../../shared/village.ts';
import type { VillageModel } from '../model.ts';
import type { Command, Reply } from './connection.ts';

const REFRESH_MS = 250;
const IDLE_REFRESH_MS = 2000;
/** "show earlier" adds this many entries, up to the most one answer carries. */
const MORE_ENTRIES = 50;
const MAX_ENTRIES = 200;

/** What the panel shows, as the test hook reports it (the same texts as drawn). */
export interface InspectorProbe {
  peer: string;
  /** Figure 2's names: currentTerm, votedFor, commitIndex, lastApplied, and role, leader, lastLogIndex, lastLogTerm. */
  fields: Record<string, string>;
  /** Rows as drawn: [index, term, command]. */
  log: [string, string, string][];
  /** [peer, nextIndex, matchIndex] per follower; null when no such table is shown (not a leader). */
  progress: [string, string, string][] | null;
  /** When the peer could not be reached: why (the last good answer stays shown). */
  error: string | null;
}

export class InspectorPanel {
  private peer: string | null = null;
  private view: InspectView | null = null;
  private error: string | null = null;
  private asking = false;
  private askedAt = 0;
  private seen = '';
  private entries = DEFAULT_INSPECT_ENTRIES;
  /** Bumped on open and close: an answer for an older one is dropped. */
  private generation = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly model: VillageModel,
    private readonly send: (cmd: Command) => Promise<Reply>,
  ) {}

  get openPeer(): string | null {
    return this.peer;
  }

  open(peer: string): void {
    this.generation++;
    this.peer = peer;
    this.view = null;
    this.error = null;
    this.asking = false;
    this.seen = '';
    this.entries = DEFAULT_INSPECT_ENTRIES;
    this.el.hidden = false;
    this.render();
    this.ask(Date.now());
  }

  close(): void {
    if (this.peer === null) return;
    this.generation++;
    this.rendered = '';
    this.peer = null;
    this.view = null;
    this.el.hidden = true;
    this.el.replaceChildren();
  }

  /** Called every frame: asks again when the peers' picture changed (throttled) or it is time to. */
  refresh(now: number): void {
    if (this.peer === null || this.asking) return;
    const since = now - this.askedAt;
    if (since >= IDLE_REFRESH_MS || (since >= REFRESH_MS && this.pictureKey() !== this.seen)) this.ask(now);
  }

  probe(): InspectorProbe | null {
    if (this.peer === null || this.el.hidden) return null;
    const cells = (row: Element) => [...row.querySelectorAll('td')].map((td) => td.textContent ?? '');
    const fields: Record<string, string> = {};
    for (const row of this.el.querySelectorAll('.inspect-fields tr')) fields[row.querySelector('th')?.textContent ?? ''] = row.querySelector('td')?.textContent ?? '';
    const progress = this.el.querySelector('.inspect-progress');
    return {
      peer: this.peer,
      fields,
      log: [...this.el.querySelectorAll('.inspect-log tbody tr')].map((r) => cells(r) as [string, string, string]),
      progress: progress ? [...progress.querySelectorAll('tbody tr')].map((r) => cells(r) as [string, string, string]) : null,
      error: this.error,
    };
  }

  /** What, in the village's picture, would change what the peer shows: every villager's state. */
  private pictureKey(): string {
    let k = '';
    for (const p of this.model.peers.values()) k += `${p.name}:${p.process}:${p.role}:${p.term}:${p.vote}:${p.commitIndex}:${p.appliedIndex}:${p.lastIndex}|`;
    return k;
  }

  private ask(now: number): void {
    const peer = this.peer;
    if (peer === null) return;
    const gen = this.generation;
    this.asking = true;
    this.askedAt = now;
    this.seen = this.pictureKey();
    void this.send({ type: 'inspect', peer, log: { last: this.entries } }).then((r) => {
      if (gen !== this.generation) return;
      this.asking = false;
      if (r.ok && isView(r.value)) {
        this.view = r.value;
        this.error = null;
      } else {
        this.error = r.text || 'no answer';
      }
      this.render();
    });
  }

  /** What the panel showed last: rebuilt only when an answer says something new. */
  private rendered = '';

  private render(): void {
    const peer = this.peer;
    if (peer === null) return;
    const v = this.view;
    const key = JSON.stringify([peer, v, this.error, this.entries]);
    if (key === this.rendered && this.el.childElementCount > 0) return;
    this.rendered = key;
    const head = h('header', 'inspect-head');
    const title = h('h2', 'inspect-title', v ? `${peer} · ${v.role} · term ${v.term}` : `${peer} · looking inside…`);
    title.id = 'inspector-title';
    const close = h('button', 'inspect-close', '×') as HTMLButtonElement;
    close.type = 'button';
    close.title = 'Close (Esc)';
    close.setAttribute('aria-label', 'Close the inspector');
    close.addEventListener('click', () => this.close());
    head.append(title, close);
    const parts: Node[] = [head];
    if (this.error) parts.push(h('p', 'inspect-error', `Could not refresh: ${this.error}`));
    if (v) parts.push(...this.body(v));
    // Keep the reader's place in the log across refreshes; follow the newest entries when at the end.
    const old = this.el.querySelector('.inspect-scroll');
    const atEnd = !old || old.scrollTop + old.clientHeight >= old.scrollHeight - 4;
    const top = old?.scrollTop ?? 0;
    this.el.replaceChildren(...parts);
    const scroll = this.el.querySelector('.inspect-scroll');
    if (scroll) scroll.scrollTop = atEnd ? scroll.scrollHeight : top;
  }

  private body(v: InspectView): Node[] {
    const fields = h('table', 'inspect-fields');
    const field = (name: string, value: string, note: string) => {
      const tr = h('tr', '');
      const th = h('th', '', name);
      th.title = note;
      tr.append(th, h('td', '', value));
      fields.append(tr);
    };
    field('currentTerm', String(v.term), 'latest term this villager has seen');
    field('votedFor', v.vote ?? 'null', 'who it voted for in currentTerm (null: nobody)');
    field('commitIndex', String(v.commitIndex), 'highest log entry known to be committed');
    field('lastApplied', String(v.appliedIndex), 'highest log entry applied to its key-value store');
    field('role', v.role, '');
    field('leader', v.leader ?? 'unknown', 'the leader it follows');
    field('lastLogIndex', String(v.lastIndex), 'index of its last log entry');
    field('lastLogTerm', String(v.lastTerm), 'term of its last log entry');
    const out: Node[] = [fields];

    // Figure 2, "Volatile state on leaders": only a leader keeps it, so only a leader shows it.
    if (v.progress) {
      out.push(h('h3', '', 'nextIndex / matchIndex (leader)'));
      const t = table('inspect-progress', ['peer', 'nextIndex', 'matchIndex']);
      for (const f of v.progress) t.body.append(row([f.peer, String(f.nextIndex), String(f.matchIndex)]));
      out.push(t.table);
    }

    const log = v.log;
    const shown = log.entries.length ? `${log.from}..${log.to}` : 'none';
    const compacted = log.first > 1 ? `; 1..${log.first - 1} in a snapshot` : '';
    out.push(h('h3', '', `log (${log.last} ${log.last === 1 ? 'entry' : 'entries'}; showing ${shown}${compacted})`));
    const t = table('inspect-log', ['index', 'term', 'command']);
    for (const e of log.entries) {
      const tr = row([String(e.index), String(e.term), e.command]);
      if (e.index <= v.commitIndex) tr.className = 'committed';
      t.body.append(tr);
    }
    const scroll = h('div', 'inspect-scroll');
    scroll.append(t.table);
    out.push(scroll);
    if (log.from > log.first && this.entries < MAX_ENTRIES) {
      const more = h('button', 'inspect-more', `show ${Math.min(MORE_ENTRIES, MAX_ENTRIES - this.entries)} earlier`) as HTMLButtonElement;
      more.type = 'button';
      more.addEventListener('click', () => {
        this.entries = Math.min(MAX_ENTRIES, this.entries + MORE_ENTRIES);
        this.ask(Date.now());
      });
      out.push(more);
    }
    out.push(h('p', 'inspect-legend', 'bold rows: committed · refreshed while open · Esc closes'));
    return out;
  }
}

function h(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function row(cells: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(h('td', '', c));
  return tr;
}

function table(className: string, heads: string[]): { table: HTMLTableElement; body: HTMLTableSectionElement } {
  const t = document.createElement('table');
  t.className = className;
  const head = t.createTHead().insertRow();
  for (const x of heads) head.append(h('th', '', x));
  return { table: t, body: t.createTBody() };
}

/** The relay's answer, checked for the parts the panel reads (a page never trusts a shape blindly). */
function isView(v: unknown): v is InspectView {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const log = o.log as Record<string, unknown> | undefined;
  return (
    typeof o.term === 'number' &&
    typeof o.role === 'string' &&
    typeof o.commitIndex === 'number' &&
    typeof o.appliedIndex === 'number' &&
    typeof log === 'object' &&
    log !== null &&
    Array.isArray(log.entries) &&
    log.entries.every((e: unknown) => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).index === 'number' && typeof (e as Record<string, unknown>).command === 'string') &&
    (o.progress === null || Array.isArray(o.progress))
  );
}
