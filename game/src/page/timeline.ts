// The timeline bar under the village: drag back to any moment of the run and the village shows
// that moment (villagers, roles, terms, timers, letters in the air, log table, board), play it
// forward at any speed, and "Live" returns. Rewinding is this page's alone and only a view: the
// cluster is not changed, and the controls that act on it are off while rewound (they say why).
//
// The recording is the relay's flight recorder (game/relay/recorder.ts), read over HTTP a window
// at a time (/api/recording/frames: from a keyframe before the moment to some seconds after it),
// so a long run is never loaded whole: the page holds one window and the model rebuilt from it
// (rewind.ts). With `npm run replay -- FILE` the page is in replay mode (a <meta> the replay
// server adds): no relay, no cluster, only the recording.
//
// Times here are the relay's wall clock (ms), as in the recording; the live model converts with
// its clock offset.
import type { RecordingInfo } from '../../relay/recording.ts';
import { VillageModel } from '../model.ts';
import { lookBackMs, parseFrames, Rewind } from '../rewind.ts';

export type TimelineMode = 'live' | 'rewound' | 'replay';

/** The page's `<meta name="village-replay" content="FILE">` when npm run replay serves it. */
export const VILLAGE_REPLAY_META = 'village-replay';

const RANGE_STEPS = 10_000;
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16, 32];
const INFO_EVERY_MS = 3000;
/** Frames asked for beyond the moment (times the speed), so playing needs few requests. */
const AHEAD_MS = 20_000;

export interface TimelineState {
  mode: TimelineMode;
  /** The moment shown (relay ms); the live edge while live. */
  at: number;
  start: number | null;
  end: number | null;
  playing: boolean;
  speed: number;
  /** Whether the model for `at` is shown (false while its frames are on the way). */
  ready: boolean;
  note: string;
}

export class Timeline {
  private mode: TimelineMode;
  private at = 0;
  private playing = false;
  private speed = 1;
  private info: RecordingInfo | null = null;
  private infoAt = -Infinity;
  private infoLoading = false;
  private window: Rewind | null = null;
  /** Village time of the moment `shown` shows (Rewind.now): what the scenes draw it at. */
  private shownNow: number | null = null;
  private shown: VillageModel | null = null;
  /** The moment the next window is to be fetched for; one request at a time. */
  private wanted: number | null = null;
  private loading = false;
  private error: string | null = null;
  private lastTick: number | null = null;
  private dragging = false;
  private dragEnd: number | null = null;
  private pendingValue: number | null = null;
  private retryAfter = 0;
  private drawnModel: VillageModel;

  private readonly live: HTMLButtonElement;
  private readonly play: HTMLButtonElement;
  private readonly speedSel: HTMLSelectElement;
  private readonly range: HTMLInputElement;
  private readonly time: HTMLElement;
  private readonly note: HTMLElement;

  constructor(
    private readonly el: HTMLElement,
    private readonly liveModel: VillageModel,
    private readonly replayFile: string | null,
    private readonly fetchText: (url: string) => Promise<{ status: number; text: string }> = defaultFetch,
  ) {
    this.mode = replayFile !== null ? 'replay' : 'live';
    this.drawnModel = liveModel;
    const doc = el.ownerDocument;
    const button = (cls: string, text: string, title: string) => {
      const b = doc.createElement('button');
      b.type = 'button';
      b.className = cls;
      b.textContent = text;
      b.title = title;
      return b;
    };
    this.live = button('tl-live', '● Live', 'back to the village as it is now');
    this.play = button('tl-play', '▶', 'play forward from the moment shown');
    this.speedSel = doc.createElement('select');
    this.speedSel.className = 'tl-speed';
    this.speedSel.title = 'playing speed';
    for (const s of SPEEDS) {
      const o = doc.createElement('option');
      o.value = String(s);
      o.textContent = `${s}×`;
      if (s === 1) o.selected = true;
      this.speedSel.append(o);
    }
    this.range = doc.createElement('input');
    this.range.type = 'range';
    this.range.className = 'tl-range';
    this.range.min = '0';
    this.range.max = String(RANGE_STEPS);
    this.range.value = String(RANGE_STEPS);
    this.range.setAttribute('aria-label', 'moment of the run shown');
    this.time = doc.createElement('span');
    this.time.className = 'tl-time';
    this.note = doc.createElement('span');
    this.note.className = 'tl-note';
    this.note.setAttribute('role', 'status');
    el.replaceChildren(this.live, this.play, this.speedSel, this.range, this.time, this.note);

    this.live.addEventListener('click', () => this.goLive());
    this.play.addEventListener('click', () => this.togglePlay());
    this.speedSel.addEventListener('change', () => (this.speed = Number(this.speedSel.value) || 1));
    this.range.addEventListener('pointerdown', () => {
      this.dragging = true;
      // While the thumb is held the bar's end stays where it was: a place on it keeps its moment.
      this.dragEnd = this.end();
    });
    el.ownerDocument.addEventListener('pointerup', () => {
      this.dragging = false;
      this.dragEnd = null;
    });
    this.range.addEventListener('input', () => this.onRange());
    // A live page asks for the recording's extent only when someone reaches for the bar, and
    // then while rewound: a page left live sends nothing but its WebSocket.
    el.addEventListener('pointerenter', () => this.refreshInfo());
    this.range.addEventListener('focus', () => this.refreshInfo());
    if (this.mode === 'replay') {
      this.live.disabled = true;
      this.live.title = 'a replay has no live village: no cluster is running';
      this.playing = true;
      this.refreshInfo();
    }
  }

  /** The model the scenes draw: the live one, or the one rebuilt for the moment shown. */
  model(): VillageModel {
    const m = this.mode === 'live' ? this.liveModel : (this.shown ?? (this.mode === 'replay' ? this.emptyReplay() : this.liveModel));
    if (m !== this.drawnModel) {
      // The views skip work while a model's version is unchanged: the next one must look new.
      m.version = Math.max(m.version, this.drawnModel.version) + 1;
      m.kvVersion = Math.max(m.kvVersion, this.drawnModel.kvVersion) + 1;
      this.drawnModel = m;
    }
    return m;
  }

  /** The moment the scenes draw, in the shown model's local ms (village time, as live). */
  now(localNow: number): number {
    return this.mode === 'live' ? localNow : (this.shownNow ?? this.at);
  }

  /** Why the controls that act on the cluster are off, or null while live. */
  liveOnly(): string | null {
    if (this.mode === 'replay') return `replay of ${this.replayFile}: no cluster is running, so nothing can be commanded`;
    if (this.mode === 'rewound') return 'rewound: you are looking at the past, and it cannot be changed; press Live to act on the cluster';
    return null;
  }

  state(): TimelineState {
    return { mode: this.mode, at: this.at, start: this.info?.start ?? null, end: this.end(), playing: this.playing, speed: this.speed, ready: this.window !== null && this.shown !== null && !this.loading && this.error === null, note: this.note.textContent ?? '' };
  }

  /** Every animation frame: play forward, fetch what is needed, draw the bar. */
  tick(localNow: number): void {
    const dt = this.lastTick === null ? 0 : Math.min(250, localNow - this.lastTick);
    this.lastTick = localNow;
    if (localNow - this.infoAt > INFO_EVERY_MS && (this.mode === 'rewound' || (this.mode === 'replay' && this.info === null))) this.refreshInfo();
    if (this.mode === 'live') this.at = this.liveEdge();
    else if (this.playing && !this.dragging && this.window !== null) this.advance(dt * this.speed);
    this.draw();
  }

  // ---- moving in time ----

  private onRange(): void {
    const start = this.info?.start;
    const end = this.dragEnd ?? this.end();
    const v = Number(this.range.value);
    if (start == null || end === null) {
      // The extent is on its way (asked for when the pointer came near): this place then.
      this.pendingValue = v;
      return;
    }
    this.pendingValue = null;
    if (this.mode === 'live') {
      if (v >= RANGE_STEPS) return;
      this.mode = 'rewound';
      this.playing = false;
    }
    if (this.mode === 'rewound' && v >= RANGE_STEPS) return this.goLive();
    this.seek(start + (v / RANGE_STEPS) * (end - start));
  }

  private goLive(): void {
    if (this.mode === 'replay') return;
    this.mode = 'live';
    this.playing = false;
    this.shown = null;
    this.shownNow = null;
    this.window = null;
    this.wanted = null;
    this.error = null;
  }

  private togglePlay(): void {
    if (this.mode === 'live') return;
    const end = this.end();
    // Play again from the start once at the end of a replay.
    if (!this.playing && this.mode === 'replay' && end !== null && this.at >= end && this.info?.start != null) this.seek(this.info.start);
    this.playing = !this.playing;
  }

  private advance(ms: number): void {
    const end = this.end();
    let t = this.at + ms;
    if (end !== null && t >= end) {
      if (this.mode === 'rewound') return this.goLive();
      t = end;
      this.playing = false;
    }
    // Wait at the window's end for the next one rather than show a moment not rebuilt.
    const to = this.window?.to ?? null;
    if (to !== null && t > to && (this.loading || this.wanted !== null)) t = Math.max(this.at, to);
    this.seek(t);
  }

  /** Shows moment t: from the window held if it covers t, else once the window for t arrived. */
  private seek(t: number): void {
    this.at = t;
    const back = this.back();
    const w = this.window;
    if (w && w.covers(t, back, this.info?.start ?? null)) {
      this.shown = w.at(t, back);
      this.shownNow = w.now(t);
      // Playing on: ask for the next window a while before this one ends.
      const to = w.to!;
      const end = this.end();
      if (this.playing && end !== null && to < end && to - t < (AHEAD_MS * this.speed) / 3) this.want(t);
      return;
    }
    this.want(t);
  }

  private want(t: number): void {
    // A window that could not reach its moment (more than a window's bytes since the keyframe
    // before it): show what it reaches, and ask again only now and then.
    if (Date.now() < this.retryAfter) return;
    this.wanted = t;
    if (!this.loading) void this.load();
  }

  private async load(): Promise<void> {
    while (this.wanted !== null) {
      const t = this.wanted;
      this.wanted = null;
      this.loading = true;
      const back = this.back();
      const ahead = Math.round(AHEAD_MS * Math.max(1, this.speed));
      try {
        const r = await this.fetchText(`/api/recording/frames?at=${Math.round(t)}&back=${back}&ahead=${ahead}`);
        if (r.status !== 200) throw new Error(r.text.trim() || `HTTP ${r.status}`);
        const { frames, bad } = parseFrames(r.text);
        if (this.mode === 'live') break;
        this.window = new Rewind(frames);
        this.error = frames.length === 0 ? 'nothing was recorded at that moment' : bad > 0 ? `${bad} unreadable line(s) of the recording skipped` : null;
        const to = this.window.to;
        if (to !== null && to < t && to < (this.end() ?? to)) {
          this.retryAfter = Date.now() + 1000;
          this.error = `the recording holds too much around this moment to show it; showing ${clock(to)}`;
        }
        if (to !== null && this.wanted === null) {
          this.shown = this.window.at(Math.min(this.at, to), back);
          this.shownNow = this.window.now(Math.min(this.at, to));
        }
      } catch (e) {
        this.error = `cannot read the recording: ${(e as Error).message}`;
      } finally {
        this.loading = false;
      }
    }
  }

  private back(): number {
    return lookBackMs(this.liveModel.timing ?? this.shown?.timing ?? null);
  }

  // ---- the recording's extent ----

  private refreshInfo(): void {
    if (this.infoLoading) return;
    this.infoLoading = true;
    this.infoAt = Date.now();
    void this.fetchText('/api/recording')
      .then((r) => {
        if (r.status !== 200) throw new Error(r.text.trim() || `HTTP ${r.status}`);
        const info = JSON.parse(r.text) as RecordingInfo;
        const first = this.info === null;
        this.info = info;
        if (first && this.mode === 'replay' && info.start !== null) this.seek(info.start);
        if (this.pendingValue !== null && info.start !== null) {
          this.dragEnd ??= this.end();
          this.range.value = String(this.pendingValue);
          this.onRange();
          if (!this.dragging) this.dragEnd = null;
        }
        if (this.error?.startsWith('no recording')) this.error = null;
      })
      .catch((e: Error) => {
        if (this.info === null) this.error = `no recording to rewind: ${e.message}`;
      })
      .finally(() => (this.infoLoading = false));
  }

  /** The last moment that can be shown: now on the relay's clock while live, else the recording's end. */
  private end(): number | null {
    if (this.mode === 'replay') return this.info?.end ?? null;
    if (this.info?.start == null) return null;
    return Math.max(this.info.end ?? 0, this.liveEdge());
  }

  private liveEdge(): number {
    return Date.now() - (this.liveModel.wallOffset ?? this.liveModel.clockOffset ?? 0);
  }

  private emptyReplay(): VillageModel {
    const m = new VillageModel();
    m.setConnection('open', 0);
    this.shown = m;
    this.shownNow = null;
    return m;
  }

  // ---- the bar ----

  private draw(): void {
    const start = this.info?.start ?? null;
    const end = this.end();
    const rewound = this.mode !== 'live';
    this.el.classList.toggle('rewound', this.mode === 'rewound');
    this.el.classList.toggle('replay', this.mode === 'replay');
    this.live.classList.toggle('on', !rewound);
    this.play.disabled = !rewound;
    this.play.textContent = this.playing ? '❚❚' : '▶';
    this.play.title = rewound ? (this.playing ? 'pause' : 'play forward from the moment shown') : 'drag the bar back to a moment first';
    // Live, the bar works before the extent is known (it is asked for on the way); a replay waits for it.
    this.range.disabled = this.mode === 'replay' && (start === null || end === null);
    if (!this.dragging && start !== null && end !== null) {
      const v = this.mode === 'live' ? RANGE_STEPS : Math.round(((this.at - start) / Math.max(1, end - start)) * RANGE_STEPS);
      if (String(v) !== this.range.value) this.range.value = String(Math.max(0, Math.min(RANGE_STEPS, v)));
    }
    this.time.textContent = start === null ? '' : this.mode === 'live' ? `live · ${clock(this.at)}` : `${clock(this.at)} · ${ago(this.at, end)}`;
    let note: string;
    if (this.error) note = this.error;
    // Live, the recording's extent is asked for only when the pointer comes to the bar: until then nothing is known of it.
    else if (start === null) note = this.info ? (this.info.off ?? 'nothing recorded yet') : this.mode === 'replay' ? 'reading the recording…' : 'drag back to see any moment of this run';
    else if (this.mode === 'replay') note = `replay of ${this.replayFile} · no cluster is running: the console, clicks on villagers and the attacks are off`;
    else if (this.mode === 'rewound') note = `rewound, view only: the cluster is not changed and goes on live · ${this.loading && this.shown === null ? 'loading…' : 'Live returns'}`;
    else note = 'drag back to see any moment of this run';
    if (this.note.textContent !== note) {
      this.note.textContent = note;
      this.note.title = note;
    }
  }
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 21);
}

function ago(t: number, end: number | null): string {
  if (end === null) return '';
  const s = Math.max(0, (end - t) / 1000);
  return s < 60 ? `${s.toFixed(1)} s before the end` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s before the end`;
}

async function defaultFetch(url: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { cache: 'no-store' });
  return { status: r.status, text: await r.text() };
}

/**
 * One VillageModel that the scenes hold for good, standing for whichever model is shown now
 * (`current()`): the live one, or one rebuilt for a moment. Reads, calls and writes go to it.
 */
export function shownModel(current: () => VillageModel): VillageModel {
  return new Proxy(Object.create(VillageModel.prototype) as VillageModel, {
    get(_t, key) {
      const m = current();
      const v: unknown = Reflect.get(m, key, m);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(m) : v;
    },
    set(_t, key, value) {
      return Reflect.set(current(), key, value);
    },
    has(_t, key) {
      return Reflect.has(current(), key);
    },
  });
}
