// What the scenes share with the page: the model they draw, the intents they send, and the
// DOM parts (menu, help toggle) they open. Passed to each scene's constructor.
import type { Actions } from '../page/actions.ts';
import type { Point } from './layout.ts';
import type { Look, VillageModel } from '../model.ts';
import type { LetterShape } from './views/Letters.ts';
import type { SnapshotBlock } from './views/LogTable.ts';

export interface PageUi {
  /** Opens the villager menu at a page position (CSS px). */
  openMenu(peer: string, clientX: number, clientY: number): void;
  closeMenu(): void;
  /** Whether this pointer event closed the menu (a click outside it does only that). */
  menuClosedBy(event: Event | undefined): boolean;
  toggleHelp(show?: boolean): void;
  helpOpen(): boolean;
  /** Why the controls that act on the cluster are off (a replay, a rewound village), or null. */
  liveOnly(): string | null;
  /** Opens the panel that reads the letter `rid`, near a page position (CSS px). */
  openLetter(rid: string, clientX: number, clientY: number): void;
}

/** What the village scene tells the page about its drawing (for clicks and the test hook). */
export interface VillageView {
  /** A villager's centre in canvas coordinates, or null if it is not drawn. */
  villagerPoint(name: string): Point | null;
  /** What a villager is drawn as (leader, grave, ...), or null if it is not drawn. */
  villagerLook(name: string): Look | null;
  /** Whether an isolated villager's fence is drawn around it. */
  villagerFenced(name: string): boolean;
  /** The links drawn cut between villagers, as "peer1-peer3". */
  cutLinks(): string[];
  /** The log table as drawn: per villager, "index:term" + "c" (committed, solid) or "o" (outlined). */
  logRows(): Record<string, string[]>;
  /** The log table's snapshot blocks as drawn, per villager (rows without one are absent). */
  snapshotBlocks(): Record<string, SnapshotBlock>;
  /** The lines written on the key-value board. */
  boardLines(): string[];
  /** How many letters are in the air on screen. */
  letters(): number;
  /** The letter drawn at (or within a few px of) a canvas point, or null. */
  letterAt(x: number, y: number): string | null;
  /** Where each letter is drawn, in canvas coordinates. */
  letterPoints(): { rid: string; x: number; y: number; shape: LetterShape }[];
  /** The villagers and log tiles ("peer2:7") drawn highlighted for a broken law. */
  highlighted(): { villagers: string[]; tiles: string[] };
}

/** What the HUD tells the page about its drawing (for the test hook). */
export interface HudView {
  /** The line about the laws of Raft, as drawn ('' while the relay is unreachable). */
  lawsLine(): string;
}

export interface VillageContext {
  /** The model drawn: the live village, or the moment the timeline shows (page/timeline.ts). */
  model: VillageModel;
  /** The moment the scenes draw at, in the model's local ms: village time while live (frozen while the village is paused, slowed with it: villageTime.ts), or the moment a rewound page shows. */
  now(): number;
  actions: Actions;
  ui: PageUi;
  view: VillageView | null;
  hud: HudView | null;
}
