// A small read-only window into the page for browser tests (and curious people in the
// devtools console): window.__village.
//
//   peers()     [{ name, look, role, term, process, reporting, fenced, x, y }] — look is what is drawn
//               ('leader' | 'candidate' | 'precandidate' | 'follower' | 'newcomer' | 'grave' | 'unreachable';
//               newcomer: a learner, drawn lighter with no timer ring, before its house);
//               fenced: the isolated villager's fence is drawn around it;
//               x, y are the villager's centre in page (CSS) pixels, ready for mouse.click.
//   attacks()   whether the monster's attacks are on, as the relay said
//   connected() whether the page is connected to the relay and has its picture
//   kv()        the key-value store as the board shows it
//   board()     the lines written on the board
//   leader()    the name of the villager drawn as leader with the highest term, or null
//   letters()   how many letters are in the air on screen
//   cutLinks()  the links drawn cut between villagers, as "peer1-peer3"
//   logRows()   the log table as drawn: { peer: ["12:3c", "13:3o", ...] } (c solid, o outlined)
//   snapshotBlocks() the log table's snapshot blocks as drawn: { peer: { index, term, from, to } }
//               (the snapshot's last index and term; the first and last column it covers)
//   helpOpen()  whether the help overlay is shown
//   lawsLine()  the HUD's line about the laws of Raft, as drawn ('' while the relay is unreachable)
//   lawPanel()  the broken law's panel as shown: { law, text } (its whole text), or null when hidden
//   highlighted() the villagers and log tiles ("peer2:7") drawn highlighted for a broken law
//   timeline()  the timeline bar: { mode: 'live'|'rewound'|'replay', at, start, end, playing, speed, ready, note }
//               (times in relay ms); everything above then reads the moment shown
//   clock()     the clock bar as shown: { status, note, speed, paused }, null without a bar
//   letterList() the letters drawn: [{ rid, rpc, from, to, entries, shape, x, y, inAirMs }] (x, y page px;
//               shape 'book' | 'envelope' | 'heartbeat' | 'puff'; inAirMs null once it landed or vanished)
//   inspector() the inspector as shown: { peer, fields, log, progress, error } (inspector.ts), or null
//   letter()    the letter panel as shown: { rid, title, fields, entries, state, actions } (letterPanel.ts), or null
// Nothing here changes the village.
import type Phaser from 'phaser';
import type { VillageContext } from '../game/context.ts';
import type { Look } from '../model.ts';
import type { Timeline, TimelineState } from './timeline.ts';
import type { InspectorProbe } from './inspector.ts';
import type { LetterProbe } from './letterPanel.ts';

export interface VillagerProbe {
  name: string;
  look: Look;
  role: string;
  term: number;
  process: string;
  reporting: boolean;
  fenced: boolean;
  x: number;
  y: number;
}

export interface VillageHook {
  peers(): VillagerProbe[];
  attacks(): boolean;
  connected(): boolean;
  kv(): Record<string, unknown>;
  board(): string[];
  leader(): string | null;
  letters(): number;
  cutLinks(): string[];
  logRows(): Record<string, string[]>;
  snapshotBlocks(): Record<string, { index: number; term: number; from: number; to: number }>;
  helpOpen(): boolean;
  lawsLine(): string;
  lawPanel(): { law: string; text: string } | null;
  highlighted(): { villagers: string[]; tiles: string[] };
  timeline(): TimelineState;
  /** The clock bar as shown: status and note lines, the speed label, and whether paused. */
  clock(): { status: string; note: string; speed: string; paused: boolean } | null;
  letterList(): LetterPoint[];
  inspector(): InspectorProbe | null;
  letter(): LetterProbe | null;
}

export interface LetterPoint {
  rid: string;
  rpc: string;
  from: string;
  to: string;
  entries: number;
  /** What it is drawn as: a book (InstallSnapshot), an envelope, a small one (heartbeat), or a puff. */
  shape: string;
  x: number;
  y: number;
  /** ms since it was sent, while in the air; null once it landed or vanished. */
  inAirMs: number | null;
}

/** The page's panels, for the hook to report. */
export interface PanelProbes {
  inspector(): InspectorProbe | null;
  letter(): LetterProbe | null;
}

declare global {
  interface Window {
    __village?: VillageHook;
  }
}

export function installTestHook(
  win: Window,
  ctx: VillageContext,
  game: Phaser.Game,
  timeline: Timeline,
  panels: PanelProbes,
  clockBar?: { text(): { status: string; note: string; speed: string; paused: boolean } },
): void {
  const toPage = (x: number, y: number) => {
    const rect = game.canvas.getBoundingClientRect();
    return {
      x: Math.round(rect.left + (x * rect.width) / game.scale.width),
      y: Math.round(rect.top + (y * rect.height) / game.scale.height),
    };
  };
  win.__village = Object.freeze({
    peers: () =>
      [...ctx.model.peers.values()].flatMap((p) => {
        const point = ctx.view?.villagerPoint(p.name);
        const look = ctx.view?.villagerLook(p.name);
        if (!point || !look) return [];
        return [{ name: p.name, look, role: p.role, term: p.term, process: p.process, reporting: p.reporting, fenced: ctx.view?.villagerFenced(p.name) ?? false, ...toPage(point.x, point.y) }];
      }),
    attacks: () => ctx.model.attacks,
    connected: () => ctx.model.connection.state === 'open' && ctx.model.hasPicture,
    kv: () => ({ ...ctx.model.kv }),
    board: () => ctx.view?.boardLines() ?? [],
    leader: () => ctx.model.leader()?.name ?? null,
    letters: () => ctx.view?.letters() ?? 0,
    cutLinks: () => ctx.view?.cutLinks() ?? [],
    logRows: () => ctx.view?.logRows() ?? {},
    snapshotBlocks: () => ctx.view?.snapshotBlocks() ?? {},
    helpOpen: () => ctx.ui.helpOpen(),
    lawsLine: () => ctx.hud?.lawsLine() ?? '',
    lawPanel: () => {
      const el = win.document.getElementById('law-panel');
      const shown = ctx.model.shownViolation();
      if (!el || el.hidden || !shown) return null;
      return { law: shown.law, text: el.textContent ?? '' };
    },
    highlighted: () => ctx.view?.highlighted() ?? { villagers: [], tiles: [] },
    timeline: () => timeline.state(),
    clock: () => clockBar?.text() ?? null,
    letterList: () =>
      (ctx.view?.letterPoints() ?? []).flatMap((l) => {
        const f = ctx.model.flights.get(l.rid);
        if (!f) return [];
        const inAir = f.landedAt === null && f.vanishedAt === null;
        return [{ rid: l.rid, rpc: f.rpc, from: f.from, to: f.to, entries: f.entries, shape: l.shape, ...toPage(l.x, l.y), inAirMs: inAir ? ctx.now() - f.sentAt : null }];
      }),
    inspector: () => panels.inspector(),
    letter: () => panels.letter(),
  });
}
