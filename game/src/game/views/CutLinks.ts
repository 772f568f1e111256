// Links cut by a partition: a dashed red line between two villagers that refuse each other's
// letters, with a cross at its middle. An isolated villager's links are all cut, so it gets
// them all (and its fence, drawn by its VillagerView); every other link stays undrawn.
// Redrawn only when the set of cut links or the villagers' places change.
import Phaser from 'phaser';
import type { Point } from '../layout.ts';
import type { VillageModel } from '../../model.ts';

const COLOUR = 0xff5252;
const DASH = 9;
const GAP = 7;
/** Where a line starts and ends: this far from each villager's centre, clear of its ring. */
const CLEARANCE = 52;

export class CutLinks {
  private readonly g: Phaser.GameObjects.Graphics;
  private drawnKey = '';
  private drawn: Array<[string, string]> = [];

  constructor(scene: Phaser.Scene, private readonly model: VillageModel) {
    this.g = scene.add.graphics().setDepth(8);
  }

  /** The cut links drawn right now, as "a-b" (the test hook reports them). */
  links(): string[] {
    return this.drawn.map(([a, b]) => `${a}-${b}`);
  }

  update(where: (name: string) => Point | null): void {
    const cut = this.model.cutLinks().filter(([a, b]) => where(a) && where(b));
    const key = cut.map(([a, b]) => `${a}-${b}@${pointKey(where(a)!)}${pointKey(where(b)!)}`).join('|');
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    this.drawn = cut;
    const g = this.g;
    g.clear();
    for (const [a, b] of cut) drawCut(g, where(a)!, where(b)!);
  }

  destroy(): void {
    this.g.destroy();
  }
}

function pointKey(p: Point): string {
  return `${Math.round(p.x)},${Math.round(p.y)};`;
}

function drawCut(g: Phaser.GameObjects.Graphics, a: Point, b: Point): void {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy);
  if (len <= 2 * CLEARANCE) return;
  const ux = dx / len;
  const uy = dy / len;
  g.lineStyle(2, COLOUR, 0.75);
  for (let d = CLEARANCE; d < len - CLEARANCE; d += DASH + GAP) {
    const e = Math.min(d + DASH, len - CLEARANCE);
    g.lineBetween(a.x + ux * d, a.y + uy * d, a.x + ux * e, a.y + uy * e);
  }
  const mx = (a.x + b.x) / 2;
  const my = (a.y + b.y) / 2;
  g.lineStyle(3, COLOUR, 0.95);
  g.lineBetween(mx - 6, my - 6, mx + 6, my + 6);
  g.lineBetween(mx - 6, my + 6, mx + 6, my - 6);
}
