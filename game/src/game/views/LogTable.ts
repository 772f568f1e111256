// The logs side by side, like RaftScope's log table: one row per villager, one column per log
// index, each entry a tile in its term's colour, solid once the peer knows it is committed,
// outlined until then. Equal columns mean equal indexes, so differences between logs show.
// Tiles a broken law involves get a thick white frame. Entries a snapshot holds (the log was
// compacted, or a snapshot installed) are no tiles: one parchment block spans their columns,
// labelled with the snapshot's last index and term, and the tiles start after it. Drawn with the 2D API into the backdrop
// (views/Backdrop.ts), only when the model changed: the table costs nothing on other frames.
import Phaser from 'phaser';
import { LOG_TABLE, logColumns, logWindow } from '../layout.ts';
import type { VillageModel } from '../../model.ts';
import { COLOURS, termColour } from '../palette.ts';
import type { Backdrop } from './Backdrop.ts';

const FONT = 'Verdana, sans-serif';
/** The part of the backdrop the table repaints: its title, index labels, rows and law frames. */
const AREA = { x: LOG_TABLE.x - 8, y: LOG_TABLE.y - 22, w: LOG_TABLE.width + 16, h: LOG_TABLE.height + 28 };

export class LogTable {
  /** What never changes: the table's dark ground (the scene draws it into the backdrop). */
  readonly still: Phaser.GameObjects.GameObject[];
  private readonly columns = logColumns();
  /** What the last update drew, per villager: "index:term" + "c" (solid) or "o" (outlined). */
  drawn: Record<string, string[]> = {};
  /** The tiles the last update framed for a broken law, as "peer:index". */
  marked: string[] = [];
  /** The snapshot blocks the last update drew, per villager: the snapshot's last index and term, and the first and last index of the columns it spans. */
  snapshots: Record<string, SnapshotBlock> = {};
  /** What the last paint showed (title, window and rows): a model change that leaves it alone paints nothing. */
  private paintedKey = '';

  constructor(
    scene: Phaser.Scene,
    private readonly model: VillageModel,
    private readonly backdrop: Backdrop,
  ) {
    const ground = scene.add.graphics().setDepth(1);
    ground.fillStyle(0x000000, 0.28);
    ground.fillRoundedRect(LOG_TABLE.x - 6, LOG_TABLE.y - 2, LOG_TABLE.width + 12, LOG_TABLE.height + 4, 6);
    this.still = [ground];
  }

  /** Draws the table again (the scene calls it when the model changed): one repaint of its part of the backdrop. */
  update(): void {
    const peers = [...this.model.peers.values()];
    const { first } = logWindow(this.model.maxIndex(), this.columns);
    const drawn: Record<string, string[]> = {};
    const marked: string[] = [];
    const snapshots: Record<string, SnapshotBlock> = {};
    const lawTiles = this.model.lawHighlight().tiles;
    const rowH = this.rowHeight(peers.length);
    const tile = Math.min(LOG_TABLE.tile, rowH - 3);
    const title = `Logs by index (solid = committed, outlined = not yet; colour = term; parchment = snapshot)   commit ${this.model.commitIndex()}`;
    const rows = peers.map((p, r) => {
      const look = this.model.lookOf(p);
      const dim = look === 'grave' || look === 'unreachable';
      const cells: Array<{ index: number; term: number; committed: boolean; law: boolean }> = [];
      const row: string[] = (drawn[p.name] = []);
      // Everything through the snapshot's last index is in the snapshot: no tile there.
      const start = this.model.logStartOf(p);
      const through = start ? start.snapshotIndex : 0;
      if (start && through >= first) snapshots[p.name] = { index: start.snapshotIndex, term: start.snapshotTerm, from: first, to: Math.min(through, first + this.columns - 1) };
      for (let c = 0; c < this.columns; c++) {
        const index = first + c;
        if (index <= through) continue;
        const t = this.model.tileAt(p, index);
        if (!t) continue;
        const committed = this.model.isCommitted(p, index);
        row.push(`${index}:${t.term}${committed ? 'c' : 'o'}`);
        const law = lawTiles.has(`${p.name}:${index}`);
        if (law) marked.push(`${p.name}:${index}`);
        cells.push({ index, term: t.term, committed, law });
      }
      return { name: `${look === 'leader' ? '♛ ' : ''}${p.name}`, y: LOG_TABLE.y + 16 + r * rowH, look, dim, cells, snapshot: snapshots[p.name] ?? null };
    });
    this.drawn = drawn;
    this.marked = marked;
    this.snapshots = snapshots;
    // The model changes with every letter; the table only with logs, commits, looks and marks.
    const key = JSON.stringify([title, first, tile, rows]);
    if (key === this.paintedKey) return;
    this.paintedKey = key;

    this.backdrop.paint(AREA.x, AREA.y, AREA.w, AREA.h, (g) => {
      g.textBaseline = 'bottom';
      g.textAlign = 'left';
      g.font = `12px ${FONT}`;
      g.fillStyle = '#f4f1e8';
      g.fillText(title, LOG_TABLE.x + 4, LOG_TABLE.y - 4);
      g.textBaseline = 'top';
      g.textAlign = 'center';
      g.font = `9px ${FONT}`;
      g.fillStyle = '#b9b4a4';
      for (let c = 0; c < this.columns; c++) {
        const index = first + c;
        if (index === 1 || index % 5 === 0) g.fillText(String(index), this.colX(c) + LOG_TABLE.tile / 2, LOG_TABLE.y + 2);
      }
      for (const row of rows) {
        const y = row.y;
        g.globalAlpha = 1;
        g.textAlign = 'right';
        g.textBaseline = 'middle';
        g.font = `12px ${FONT}`;
        g.fillStyle = row.dim ? '#8d8a80' : row.look === 'leader' ? '#ffd700' : '#f4f1e8';
        g.fillText(row.name, LOG_TABLE.x + LOG_TABLE.nameWidth - 8, y + tile / 2);
        // Empty slots: a faint outline.
        g.strokeStyle = 'rgba(255, 255, 255, 0.08)';
        g.lineWidth = 1;
        const filled = new Set(row.cells.map((c) => c.index));
        const snapTo = row.snapshot ? row.snapshot.to : first - 1;
        for (let c = 0; c < this.columns; c++) if (!filled.has(first + c) && first + c > snapTo) g.strokeRect(this.colX(c) + 0.5, y + 0.5, tile - 1, tile - 1);
        const alpha = row.dim ? 0.45 : 1;
        if (row.snapshot) this.paintSnapshot(g, row.snapshot, first, y, tile, alpha);
        g.textAlign = 'center';
        g.font = `10px ${FONT}`;
        for (const cell of row.cells) {
          const x = this.colX(cell.index - first);
          const colour = css(termColour(cell.term));
          if (cell.committed) {
            g.globalAlpha = alpha;
            g.fillStyle = colour;
            g.fillRect(x, y, tile, tile);
          } else {
            g.globalAlpha = 0.12 * alpha;
            g.fillStyle = colour;
            g.fillRect(x, y, tile, tile);
            g.globalAlpha = alpha;
            g.strokeStyle = colour;
            g.lineWidth = 2;
            g.strokeRect(x + 1, y + 1, tile - 2, tile - 2);
          }
          if (cell.law) {
            g.globalAlpha = 0.6;
            g.strokeStyle = '#000000';
            g.lineWidth = 4;
            g.strokeRect(x - 3, y - 3, tile + 6, tile + 6);
            g.globalAlpha = 1;
            g.strokeStyle = css(COLOURS.law);
            g.lineWidth = 2;
            g.strokeRect(x - 3, y - 3, tile + 6, tile + 6);
          }
          g.globalAlpha = alpha;
          g.fillStyle = cell.committed ? '#111111' : '#f4f1e8';
          g.fillText(String(cell.term), x + tile / 2, y + tile / 2 + 1);
        }
      }
      g.globalAlpha = 1;
    });
  }

  /** The snapshot block: parchment over the columns it holds, "snapshot ≤ 12 · t3" (shorter when narrow). */
  private paintSnapshot(g: CanvasRenderingContext2D, s: SnapshotBlock, first: number, y: number, tile: number, alpha: number): void {
    const x = this.colX(s.from - first);
    const w = this.colX(s.to - first) + tile - x;
    g.globalAlpha = alpha;
    g.fillStyle = '#e8d9b0';
    g.fillRect(x, y, w, tile);
    g.strokeStyle = '#7a4a22';
    g.lineWidth = 2;
    g.strokeRect(x + 1, y + 1, w - 2, tile - 2);
    g.fillStyle = '#3d2410';
    g.textAlign = 'center';
    g.font = `10px ${FONT}`;
    const label = [`snapshot ≤ ${s.index} · t${s.term}`, `snap ≤${s.index} t${s.term}`, `≤${s.index}`].find((l) => g.measureText(l).width <= w - 4) ?? '';
    g.fillText(label, x + w / 2, y + tile / 2 + 1);
  }

  private rowHeight(n: number): number {
    return Math.max(12, Math.min(LOG_TABLE.tile + LOG_TABLE.gap, Math.floor((LOG_TABLE.height - 18) / Math.max(1, n))));
  }

  private colX(c: number): number {
    return LOG_TABLE.x + LOG_TABLE.nameWidth + c * (LOG_TABLE.tile + LOG_TABLE.gap);
  }
}

/** A snapshot block as drawn: the snapshot's last index and term, and the indexes of the first and last column it covers. */
export interface SnapshotBlock {
  index: number;
  term: number;
  from: number;
  to: number;
}

function css(colour: number): string {
  return `#${colour.toString(16).padStart(6, '0')}`;
}
