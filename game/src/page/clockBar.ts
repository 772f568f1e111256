// The clock bar over the village: pause / resume, step, the speed slider (log scale, 0.05x to
// 1x of the profile's pace), and what the clock is doing: who paused and how to resume, the last
// step, and which villagers cannot be paused. The keys (space, [, ], .) call the same methods.
import { nudgeSpeed, positionOf, speedAt, speedLabel } from '../../../shared/village-clock.ts';
import type { VillageModel } from '../model.ts';
import type { VillageTime } from '../villageTime.ts';
import type { Command, Reply } from './connection.ts';

export interface ClockSender {
  send(cmd: Command): Promise<Reply>;
}

const SLIDER_STEPS = 1000;

export class ClockBar {
  readonly el: HTMLElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly stepBtn: HTMLButtonElement;
  private readonly slider: HTMLInputElement;
  private readonly speedOut: HTMLElement;
  private readonly status: HTMLElement;
  private readonly note: HTMLElement;
  private lastKey = '';

  constructor(
    parent: HTMLElement,
    private readonly time: VillageTime,
    private readonly conn: ClockSender,
    private readonly model: VillageModel,
  ) {
    const doc = parent.ownerDocument;
    const el = (this.el = doc.createElement('div'));
    el.id = 'clock-bar';
    el.setAttribute('role', 'toolbar');
    el.setAttribute('aria-label', 'The village clock');
    el.hidden = true;
    const button = (label: string, title: string) => {
      const b = doc.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      el.append(b);
      return b;
    };
    this.playBtn = button('❚❚ Pause', 'pause the village (space)');
    this.playBtn.id = 'clock-play';
    this.playBtn.addEventListener('click', () => void this.toggle());
    this.stepBtn = button('Step ›', 'step: the next letter or timer (. while paused)');
    this.stepBtn.id = 'clock-step';
    this.stepBtn.addEventListener('click', () => void this.step());
    this.slider = doc.createElement('input');
    this.slider.type = 'range';
    this.slider.id = 'clock-speed';
    this.slider.min = '0';
    this.slider.max = String(SLIDER_STEPS);
    this.slider.title = 'speed of the village ([ slower, ] faster)';
    this.slider.setAttribute('aria-label', 'speed of the village');
    this.slider.addEventListener('change', () => void this.setSpeed(speedAt(Number(this.slider.value) / SLIDER_STEPS)));
    this.speedOut = doc.createElement('span');
    this.speedOut.className = 'speed';
    this.status = doc.createElement('span');
    this.status.className = 'status';
    this.status.id = 'clock-status';
    this.note = doc.createElement('span');
    this.note.className = 'note';
    this.note.id = 'clock-note';
    el.append(this.slider, this.speedOut, this.status, this.note);
    // A strip of its own between the village and the timeline: it never covers the picture.
    parent.insertBefore(el, parent.querySelector(':scope > #timeline'));
  }

  toggle(): Promise<Reply> {
    return this.send({ type: 'clock', action: this.time.paused ? 'resume' : 'pause' }, false);
  }

  step(): Promise<Reply> {
    return this.send({ type: 'clock', action: 'step' }, true);
  }

  slower(): Promise<Reply> {
    return this.setSpeed(nudgeSpeed(this.time.view?.speed ?? 1, false));
  }

  faster(): Promise<Reply> {
    return this.setSpeed(nudgeSpeed(this.time.view?.speed ?? 1, true));
  }

  setSpeed(speed: number): Promise<Reply> {
    return this.send({ type: 'clock', action: 'speed', speed }, false);
  }

  /** What the bar shows, in words (the test hook reads it). */
  text(): { status: string; note: string; speed: string; paused: boolean } {
    return { status: this.status.textContent ?? '', note: this.note.textContent ?? '', speed: this.speedOut.textContent ?? '', paused: this.time.paused };
  }

  /** Redraws from the clock view when it changed. */
  refresh(): void {
    const v = this.time.view;
    const key = JSON.stringify(v);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.el.hidden = !v || !v.offered;
    if (!v || !v.offered) return;
    this.el.classList.toggle('paused', v.paused);
    this.playBtn.textContent = v.paused ? '▶ Resume' : '❚❚ Pause';
    this.playBtn.title = v.paused ? 'resume the village (space)' : 'pause the village (space)';
    this.stepBtn.disabled = !v.paused;
    if (this.el.ownerDocument.activeElement !== this.slider) this.slider.value = String(Math.round(positionOf(v.speed) * SLIDER_STEPS));
    this.speedOut.textContent = speedLabel(v.speed);
    const when = v.at === null ? '' : ` at ${new Date(this.model.toWall(v.at)).toLocaleTimeString()}`;
    this.status.textContent = v.paused
      ? `Paused by ${v.by ?? 'someone'}${when}: space or ▶ resumes, . steps${v.lastStep ? ` · ${v.lastStep}` : ''}`
      : v.speed < 1
        ? `Slowed to ${speedLabel(v.speed)} by ${v.by ?? 'someone'}: ] speeds up`
        : '';
    this.status.title = this.status.textContent;
    this.note.textContent = v.unclocked.length > 0 ? `cannot be paused (not on the village clock): ${v.unclocked.join(', ')}` : '';
  }

  private async send(cmd: Command, say: boolean): Promise<Reply> {
    const r = await this.conn.send(cmd);
    // Steps, and anything that failed, are written to this page's console.
    if (say || !r.ok) this.model.addConsoleLine(r.ok ? 'result' : 'error', r.text, Date.now());
    return r;
  }
}
