// The panel that reports a broken law (plain DOM beside the canvas): the law in plain words,
// what was seen, the peers, terms and indexes involved, each event the verdict rests on, and
// where the relay saved the evidence. It stays open until dismissed; the next violation not yet
// dismissed then shows. The villagers and log tiles involved are highlighted by the scenes
// (VillageModel.lawHighlight) while it is shown.
import type { LawViolation } from '../../../shared/village.ts';
import type { VillageModel } from '../model.ts';

export class LawPanel {
  /** The violation on display ("n@at"), to rebuild the DOM only when it changes. */
  private shown = '';

  constructor(
    private readonly el: HTMLElement,
    private readonly model: VillageModel,
  ) {}

  /** Shows the violation the model says to show, or hides the panel. Cheap when nothing changed. */
  refresh(): void {
    const v = this.model.shownViolation();
    const count = this.model.laws?.violationCount ?? 0;
    const key = v ? `${v.n}@${v.at}/${count}` : '';
    if (key === this.shown) return;
    this.shown = key;
    if (!v) {
      this.el.hidden = true;
      this.el.replaceChildren();
      return;
    }
    this.el.replaceChildren(...this.render(v, count));
    this.el.hidden = false;
  }

  private render(v: LawViolation, count: number): Node[] {
    const h = (tag: string, className: string, text?: string) => {
      const e = document.createElement(tag);
      e.className = className;
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const title = h('h2', 'law-title', `A law of Raft was broken: ${v.name}`);
    title.id = 'law-title';
    const statement = h('p', 'law-statement', v.statement);
    const seen = h('p', 'law-message', v.message);
    const facts: string[] = [`peers: ${v.peers.join(', ') || 'none'}`];
    if (v.terms.length) facts.push(`${v.terms.length === 1 ? 'term' : 'terms'}: ${v.terms.join(', ')}`);
    if (v.indexes.length) facts.push(`log ${v.indexes.length === 1 ? 'index' : 'indexes'}: ${v.indexes.join(', ')}`);
    const involved = h('p', 'law-involved', facts.join(' · '));
    const evidenceTitle = h('h3', 'law-evidence-title', 'The events it rests on');
    const list = h('ol', 'law-evidence');
    for (const e of v.evidence) {
      const li = h('li', 'law-event');
      const where = `${e.peer}${e.seq === null ? '' : `, event ${e.seq}`} (${e.type}, ${clock(e.t)})`;
      li.append(h('span', 'law-event-where', where), document.createTextNode(`: ${e.said}`));
      list.append(li);
    }
    const file = h('p', 'law-file', v.file ? `Evidence saved by the relay: ${v.file}` : 'The relay could not save the evidence to a file (see its console).');
    const footer = h('div', 'law-footer');
    const which = h('span', 'law-count', count > 1 ? `violation ${v.n} of ${count}` : '');
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.className = 'law-dismiss';
    dismiss.textContent = 'Dismiss';
    dismiss.addEventListener('click', () => {
      this.model.dismissViolation(v);
      this.refresh();
    });
    footer.append(which, dismiss);
    return [title, statement, seen, involved, evidenceTitle, list, file, footer];
  }
}

function clock(t: number): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
