// Links cut by a partition: a dashed red line between two villagers that refuse each other's
// letters, with a cross at its middle. An isolated villager's links are all cut, so it gets
// them all (and its fence, drawn by its VillagerView); every other link stays undrawn.
// Painted with the 2D API onto the backdrop (under everything Phaser draws, as the lines were
// under the villagers), again only when the set of cut links or the villagers' places change.
import type { Point } from '../layout.ts';
import type { VillageModel } from '../../model.ts';
import type { Backdrop } from './Backdrop.ts';

const COLOUR = 'rgba(255,82,82,';
const DASH = 9;
const GAP = 7;
/** Where a line starts and ends: this far from each villager's centre, clear of its ring. */
const CLEARANCE = 52;

export class CutLinks {
  private drawnKey = '';
  private drawn: Array<[string, string]> = [];

  constructor(
    private readonly backdrop: Backdrop,
    private readonly model: VillageModel,
  ) {}

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
    const lines = cut.map(([a, b]) => [where(a)!, where(b)!] as const);
    if (lines.length === 0) {
      this.backdrop.layer('cut-links', null);
      return;
    }
    const xs = lines.flatMap(([a, b]) => [a.x, b.x]);
    const ys = lines.flatMap(([a, b]) => [a.y, b.y]);
    const x = Math.floor(Math.min(...xs)) - 8;
    const y = Math.floor(Math.min(...ys)) - 8;
    const rect = { x, y, w: Math.ceil(Math.max(...xs)) + 8 - x, h: Math.ceil(Math.max(...ys)) + 8 - y };
    this.backdrop.layer('cut-links', rect, (g) => {
      for (const [a, b] of lines) drawCut(g, a, b);
    });
  }

  destroy(): void {
    this.backdrop.layer('cut-links', null);
  }
}

function pointKey(p: Point): string {
  return `${Math.round(p.x)},${Math.round(p.y)};`;
}

function drawCut(g: CanvasRenderingContext2D, a: Point, b: Point): void {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy);
  if (len <= 2 * CLEARANCE) return;
  const ux = dx / len;
  const uy = dy / len;
  g.lineWidth = 2;
  g.strokeStyle = `${COLOUR}0.75)`;
  g.beginPath();
  for (let d = CLEARANCE; d < len - CLEARANCE; d += DASH + GAP) {
    const e = Math.min(d + DASH, len - CLEARANCE);
    g.moveTo(a.x + ux * d, a.y + uy * d);
    g.lineTo(a.x + ux * e, a.y + uy * e);
  }
  g.stroke();
  const mx = (a.x + b.x) / 2;
  const my = (a.y + b.y) / 2;
  g.lineWidth = 3;
  g.strokeStyle = `${COLOUR}0.95)`;
  g.beginPath();
  g.moveTo(mx - 6, my - 6);
  g.lineTo(mx + 6, my + 6);
  g.moveTo(mx - 6, my + 6);
  g.lineTo(mx + 6, my - 6);
  g.stroke();
}
