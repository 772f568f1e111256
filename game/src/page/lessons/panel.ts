// The Lessons panel (plain DOM over the village, the `l` key): the list of lessons, then the
// running lesson's captions with the section each cites, Continue at the key moments, Retry when
// the cluster went another way, and Leave (which undoes the lesson's faults and kills).
import type { Caption, Lesson, LessonOutcome, LessonView } from './runner.ts';

export interface LessonPanelActions {
  start(lesson: Lesson): void;
  leave(): void;
}

const MAX_CAPTIONS = 6;

export class LessonPanel implements LessonView {
  private continueResolve: (() => void) | null = null;
  private retryResolve: ((again: boolean) => void) | null = null;
  private running = false;
  private readonly head: HTMLElement;
  private readonly body: HTMLElement;
  private readonly buttons: HTMLElement;

  constructor(
    private readonly el: HTMLElement,
    private readonly lessons: readonly Lesson[],
    private readonly act: LessonPanelActions,
  ) {
    this.head = h('h2', 'lesson-title');
    this.head.id = 'lesson-title';
    this.body = h('div', 'lesson-body');
    this.buttons = h('div', 'lesson-buttons');
    el.replaceChildren(this.head, this.body, this.buttons);
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  /** The `l` key: shows the list (or the running lesson), or hides the panel. */
  toggle(): void {
    if (this.isOpen && !this.running) {
      this.el.hidden = true;
      return;
    }
    if (!this.running) this.showList();
    this.el.hidden = false;
  }

  close(): void {
    if (!this.running) this.el.hidden = true;
  }

  showList(): void {
    this.head.textContent = 'Lessons: Raft on this village';
    const ol = h('ol', 'lesson-list');
    for (const l of this.lessons) {
      const li = h('li', '');
      const b = button(`${l.title} (${l.cite})`, 'lesson-start', () => this.act.start(l));
      b.dataset.lesson = l.id;
      li.append(b);
      ol.append(li);
    }
    const note = h('p', 'lesson-note', 'Each lesson acts on the real cluster (kills, partitions, forced elections, commands) and says only what the villagers\' events show. Leaving a lesson heals and revives what it touched.');
    this.body.replaceChildren(note, ol);
    this.buttons.replaceChildren(button('Close', 'lesson-close', () => (this.el.hidden = true)));
  }

  // ---- LessonView ----

  started(lesson: Lesson, attempt: number): void {
    this.running = true;
    this.el.hidden = false;
    this.head.textContent = `${lesson.title}${attempt > 1 ? ` (try ${attempt})` : ''}`;
    this.body.replaceChildren(h('ol', 'lesson-captions'));
    this.buttons.replaceChildren(button('Leave the lesson', 'lesson-leave', () => this.act.leave()));
  }

  caption(c: Caption): void {
    const list = this.body.querySelector('.lesson-captions') ?? this.body.appendChild(h('ol', 'lesson-captions'));
    for (const old of list.querySelectorAll('.current')) old.classList.remove('current');
    const li = h('li', 'lesson-caption current');
    li.append(document.createTextNode(c.text));
    if (c.cite) li.append(' ', h('span', 'lesson-cite', `(${c.cite})`));
    list.append(li);
    while (list.childElementCount > MAX_CAPTIONS) list.firstElementChild!.remove();
  }

  waitContinue(): Promise<void> {
    const b = button('Continue', 'lesson-continue', () => {
      b.remove();
      const r = this.continueResolve;
      this.continueResolve = null;
      r?.();
    });
    this.buttons.prepend(b);
    b.focus();
    return new Promise((resolve) => (this.continueResolve = resolve));
  }

  offerRetry(why: string): Promise<boolean> {
    this.caption({ text: `The cluster went another way: ${why}.`, cite: '' });
    const answer = (again: boolean) => {
      const r = this.retryResolve;
      this.retryResolve = null;
      r?.(again);
    };
    this.buttons.replaceChildren(button('Try again', 'lesson-retry', () => answer(true)), button('Leave', 'lesson-leave', () => answer(false)));
    return new Promise((resolve) => (this.retryResolve = resolve));
  }

  finished(_lesson: Lesson, outcome: LessonOutcome): void {
    this.running = false;
    this.continueResolve = null;
    const text = outcome.ok ? 'The lesson is over: every caption was borne out by the village.' : outcome.left ? 'You left the lesson; its faults were undone.' : `The lesson stopped: ${outcome.claim}`;
    this.body.append(h('p', outcome.ok ? 'lesson-end ok' : 'lesson-end', text));
    this.buttons.replaceChildren(button('Lessons', 'lesson-back', () => this.showList()), button('Close', 'lesson-close', () => (this.el.hidden = true)));
  }
}

function h(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}
