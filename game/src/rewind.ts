// The village as it was at a moment of a recording: a VillageModel folded from recorded frames
// (the relay's flight recorder, game/relay/recording.ts), the same way the live model is folded
// from the relay's stream. No DOM and no clock: the moment is an argument.
//
// A window of frames starts at a keyframe (a full picture). To show moment T the fold starts
// from the last keyframe at least `lookBackMs` before T, so that what only events carry (letters
// in the air, the last applied command, the monster's hunt) is rebuilt too: by T, whatever
// happened before that keyframe has finished in the live page as well. Playing forward folds
// frame after frame; the recorder's own keyframes (`keyframe: true`) repeat what the batches
// before them built and are skipped then, as the live page never got them.
//
// The rebuilt model's local clock is village time, as the live page's is (villageTime.ts): the
// relay's clock (each frame is received at its `now`) run through the clock views the frames
// carry, so it stands still where the village was paused and runs slow where it was slowed. A
// view draws moment T at `now(T)`: timers and letters stand where they stood, and letters held
// in the air by a pause stay there in the rewound village too.
import type { Timing } from '../../shared/config.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { FLIGHT_LINGER_MS, FLIGHT_TIMEOUT_MS, VillageModel } from './model.ts';
import { parseRelayFrame } from './page/wire.ts';
import { VillageTime } from './villageTime.ts';

export interface RecordedFrame {
  /** The relay's wall clock when it sent the frame (ms). */
  now: number;
  msg: RelayToBrowser;
  /** A snapshot the recorder added (it repeats the batches before it). */
  keyframe: boolean;
}

/** The frames of a JSON Lines window; lines that are not snapshot or batch frames are counted in `bad`. */
export function parseFrames(text: string): { frames: RecordedFrame[]; bad: number } {
  const frames: RecordedFrame[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const p = parseRelayFrame(line);
    if (!p.ok || (p.msg.type !== 'snapshot' && p.msg.type !== 'batch')) {
      bad++;
      continue;
    }
    const keyframe = p.msg.type === 'snapshot' && (p.msg as { keyframe?: unknown }).keyframe === true;
    frames.push({ now: p.msg.now, msg: p.msg, keyframe });
  }
  return { frames, bad };
}

/** How long before a moment a fold must start to rebuild everything shown at that moment. */
export function lookBackMs(timing: Timing | null): number {
  const latency = timing?.latencyMs ?? 0;
  // A letter lives until it lands, vanishes or is given up (FLIGHT_TIMEOUT_MS, or 8 latencies),
  // then lingers; a bubble lasts 2.5 s, a hunt a few seconds.
  return Math.max(10_000, Math.max(FLIGHT_TIMEOUT_MS, 8 * latency) + Math.max(FLIGHT_LINGER_MS, 2 * latency) + 1000);
}

export class Rewind {
  private model: VillageModel | null = null;
  /** Index of the next frame to fold into `model`. */
  private next = 0;
  /** The moment `model` shows. */
  private shown = -Infinity;
  /** Village time along the frames folded into `model`. */
  private time: VillageTime | null = null;

  constructor(readonly frames: readonly RecordedFrame[]) {}

  /** The first and last frame's time (null when empty). */
  get from(): number | null {
    return this.frames[0]?.now ?? null;
  }

  get to(): number | null {
    return this.frames[this.frames.length - 1]?.now ?? null;
  }

  /**
   * Whether this window shows `t` exactly: it reaches `t`, and it has a keyframe `back` before
   * it (or starts where the recording starts, before which nothing happened).
   */
  covers(t: number, back: number, recordingStart: number | null): boolean {
    const from = this.from;
    const to = this.to;
    if (from === null || to === null || t > to) return false;
    if (recordingStart !== null && from <= recordingStart) return true;
    return this.keyframeBefore(t - back) !== null;
  }

  /** The village at `t`: folded forward from the last moment asked for, or rebuilt from a keyframe. */
  at(t: number, back: number): VillageModel {
    const start = this.keyframeBefore(t - back) ?? this.firstSnapshot();
    if (start === null) return this.rebuild(-1, t);
    // A jump far ahead starts again from a keyframe nearer than the frames folded so far.
    const far = this.model !== null && start > this.next - 1 && t - this.shown > 2 * back;
    if (this.model === null || t < this.shown || far) return this.rebuild(start, t);
    this.foldTo(this.model, t);
    return this.model;
  }

  /** Village time at moment `t` of the fold last asked for (`at`): what a view draws that model at. */
  now(t: number): number {
    return this.time ? this.time.now(t) : t;
  }

  private rebuild(start: number, t: number): VillageModel {
    const model = new VillageModel();
    const first = this.frames[Math.max(0, start)];
    this.time = new VillageTime(first?.now ?? t);
    model.setConnection('open', first?.now ?? t);
    this.model = model;
    this.next = Math.max(0, start);
    if (start >= 0) {
      // The starting keyframe counts, even if the recorder added it.
      const k = this.frames[start]!;
      this.fold(model, k);
      this.next = start + 1;
    }
    this.foldTo(model, t);
    return model;
  }

  private foldTo(model: VillageModel, t: number): void {
    while (this.next < this.frames.length && this.frames[this.next]!.now <= t) {
      const f = this.frames[this.next++]!;
      if (!f.keyframe) this.fold(model, f);
      else if (f.msg.type === 'snapshot') {
        // What no delta carries (the peers' timing, from their hello) comes only in pictures: a
        // fold that started before the first hello takes it from the next keyframe.
        model.timing ??= f.msg.picture.timing ?? null;
        model.profile ??= f.msg.picture.profile ?? null;
      }
    }
    model.prune(this.now(t));
    this.shown = t;
  }

  private fold(model: VillageModel, f: RecordedFrame): void {
    // As the live page does (connection.ts): the clock first, then the model at village time.
    this.time!.observe(f.msg, f.now);
    const v = this.time!.now(f.now);
    model.receive(f.msg, v, f.now);
    // The live page prunes on every animation frame; here, at every frame heard.
    model.prune(v);
  }

  /** Index of the last snapshot at or before `t`. */
  private keyframeBefore(t: number): number | null {
    // Frames are in time order: the last one at or before t, then back to a snapshot.
    let lo = 0;
    let hi = this.frames.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.frames[mid]!.now <= t) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = last; i >= 0; i--) if (this.frames[i]!.msg.type === 'snapshot') return i;
    return null;
  }

  private firstSnapshot(): number | null {
    const i = this.frames.findIndex((f) => f.msg.type === 'snapshot');
    return i >= 0 ? i : null;
  }
}
