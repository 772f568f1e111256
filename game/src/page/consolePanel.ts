// The web console beside the canvas (plain DOM): an input with history that sends each line
// to the relay, and an output that shows replies, errors and the cluster's main events.
import type { Actions } from './actions.ts';
import type { ConnectionInfo, VillageModel } from '../model.ts';

const MAX_LINES = 500;
const MAX_HISTORY = 100;
const HISTORY_KEY = 'raft-village.console-history';

export class ConsolePanel {
  private shownSeq = 0;
  private history: string[] = [];
  /** Position while browsing history; history.length means "the line being typed". */
  private cursor = 0;
  private draft = '';
  private lastConn = '';

  constructor(
    private readonly out: HTMLElement,
    form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly connBadge: HTMLElement,
    private readonly model: VillageModel,
    private readonly actions: Actions,
  ) {
    this.history = loadHistory();
    this.cursor = this.history.length;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (e) => this.onKey(e));
  }

  focus(): void {
    this.input.focus();
  }

  /** Shows console lines the model gained since the last call. Cheap when nothing changed. */
  refresh(): void {
    this.showConnection(this.model.connection);
    const lines = this.model.console;
    if (lines.length === 0 || lines[lines.length - 1]!.seq <= this.shownSeq) return;
    const atBottom = this.out.scrollTop + this.out.clientHeight >= this.out.scrollHeight - 24;
    for (const l of lines) {
      if (l.seq <= this.shownSeq) continue;
      this.shownSeq = l.seq;
      const div = document.createElement('div');
      div.className = `line ${l.level}`;
      const at = document.createElement('span');
      at.className = 'at';
      at.textContent = clock(l.at);
      div.append(at, document.createTextNode(l.text));
      this.out.append(div);
    }
    while (this.out.childElementCount > MAX_LINES) this.out.firstElementChild!.remove();
    if (atBottom) this.out.scrollTop = this.out.scrollHeight;
  }

  private submit(): void {
    const line = this.input.value.trim();
    if (!line) return;
    this.remember(line);
    this.input.value = '';
    if (line === 'clear') {
      this.out.replaceChildren();
      return;
    }
    void this.actions.consoleLine(line);
  }

  private onKey(e: KeyboardEvent): void {
    // Keys typed here are the console's, never the game's.
    e.stopPropagation();
    if (e.key === 'ArrowUp') {
      e.preventDefault();
      if (this.cursor === this.history.length) this.draft = this.input.value;
      if (this.cursor > 0) this.cursor--;
      this.input.value = this.history[this.cursor] ?? this.draft;
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (this.cursor < this.history.length) this.cursor++;
      this.input.value = this.cursor === this.history.length ? this.draft : this.history[this.cursor]!;
    } else if (e.key === 'Escape') {
      this.input.blur();
    }
  }

  private remember(line: string): void {
    if (this.history[this.history.length - 1] !== line) this.history.push(line);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    this.cursor = this.history.length;
    this.draft = '';
    try {
      localStorage.setItem(HISTORY_KEY, JSON.stringify(this.history));
    } catch {
      // private mode or storage full: history lives for this page only
    }
  }

  private showConnection(c: ConnectionInfo): void {
    const key = `${c.state}:${this.model.hasPicture}`;
    if (key === this.lastConn) return;
    this.lastConn = key;
    this.connBadge.className = `conn ${c.state}`;
    this.connBadge.textContent = c.state === 'open' ? 'relay connected' : c.state === 'connecting' ? 'connecting…' : 'relay unreachable';
  }
}

function loadHistory(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(-MAX_HISTORY) : [];
  } catch {
    return [];
  }
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}
