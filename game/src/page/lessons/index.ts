// Lessons in the page: the panel, the runner and the check mode. With `?lessons=check` in the
// page's address every lesson runs to its end, Continue pressed at once, and the outcomes are
// published on window.__lessons for `npm run lessons -- --check`.
import type { VillageModel } from '../../model.ts';
import type { Actions } from '../actions.ts';
import type { VillageTime } from '../../villageTime.ts';
import type { RelayConnection } from '../connection.ts';
import { LESSONS } from './catalogue.ts';
import { LessonPanel } from './panel.ts';
import { LessonRunner, type Caption, type Lesson, type LessonOutcome } from './runner.ts';

export interface LessonResult {
  id: string;
  title: string;
  ok: boolean;
  attempts: number;
  /** For a failure: the caption whose claim the events did not bear out. */
  claim?: string;
}

export interface LessonsHook {
  /** Lessons finished so far, in order. */
  results(): LessonResult[];
  /** Whether the check run is over. */
  done(): boolean;
  /** Every caption shown, with the lesson it belongs to. */
  captions(): { lesson: string; text: string; cite: string }[];
}

declare global {
  interface Window {
    __lessons?: LessonsHook;
  }
}

export interface LessonsUi {
  /** The `l` key. */
  toggle(): void;
  close(): void;
}

export function installLessons(win: Window, el: HTMLElement, model: VillageModel, actions: Actions, conn: RelayConnection, time?: VillageTime): LessonsUi {
  const check = new URLSearchParams(win.location.search).get('lessons') === 'check';
  const results: LessonResult[] = [];
  const captions: { lesson: string; text: string; cite: string }[] = [];
  let current = '';
  let done = false;
  let runner: LessonRunner;
  const panel = new LessonPanel(el, LESSONS, {
    start: (l) => void start(l),
    leave: () => runner.leave(),
  });
  const view = {
    started: (l: Lesson, attempt: number) => {
      current = l.id;
      panel.started(l, attempt);
    },
    caption: (c: Caption) => {
      captions.push({ lesson: current, ...c });
      panel.caption(c);
    },
    waitContinue: () => panel.waitContinue(),
    offerRetry: (why: string) => panel.offerRetry(why),
    finished: (l: Lesson, o: LessonOutcome) => {
      results.push({ id: l.id, title: l.title, ok: o.ok, attempts: o.attempts, ...(o.ok ? {} : { claim: o.claim }) });
      panel.finished(l, o);
    },
  };
  // A lesson's pause pauses the village too, when the relay offers a clock and nobody paused it already.
  const clock = time && {
    pause: async () => {
      if (!time.view?.offered || time.paused) return false;
      return (await conn.send({ type: 'clock', action: 'pause' })).ok;
    },
    resume: async () => {
      if (time.paused) await conn.send({ type: 'clock', action: 'resume' });
    },
  };
  runner = new LessonRunner({ model, actions, send: (cmd) => conn.send(cmd), view, check, ...(clock ? { clock } : {}) });
  const start = async (l: Lesson) => {
    if (runner.running) return;
    await runner.run(l);
  };
  win.__lessons = Object.freeze({ results: () => results.slice(), done: () => done, captions: () => captions.slice() });
  if (check) {
    void (async () => {
      for (const l of LESSONS) await runner.run(l);
      done = true;
    })();
  }
  return { toggle: () => panel.toggle(), close: () => panel.close() };
}
