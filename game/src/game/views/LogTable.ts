// The logs side by side, like RaftScope's log table: one row per villager, one column per log
// index, each entry a tile in its term's colour, solid once the peer knows it is committed,
// outlined until then. Equal columns mean equal indexes, so differences between logs show.
// Tiles a broken law involves get a thick white frame.
import Phaser from 'phaser';
import { LOG_TABLE, logColumns, logWindow } from '../layout.ts';
import type { VillageModel } from '../../model.ts';
import { COLOURS, termColour } from '../palette.ts';
import { setColour } from './text.ts';

export class LogTable {
  private readonly g: Phaser.GameObjects.Graphics;
  private readonly columns = logColumns();
  private readonly names: Phaser.GameObjects.Text[] = [];
  private readonly cells: Phaser.GameObjects.Text[][] = [];
  private readonly indexLabels: Phaser.GameObjects.Text[] = [];
  private readonly title: Phaser.GameObjects.Text;
  /** What the last update drew, per villager: "index:term" + "c" (solid) or "o" (outlined). */
  drawn: Record<string, string[]> = {};
  /** The tiles the last update framed for a broken law, as "peer:index". */
  marked: string[] = [];

  constructor(
    private readonly scene: Phaser.Scene,
    private readonly model: VillageModel,
  ) {
    this.g = scene.add.graphics().setDepth(1);
    this.title = scene.add
      .text(LOG_TABLE.x + 4, LOG_TABLE.y - 4, '', { fontFamily: 'Verdana, sans-serif', fontSize: '12px', color: '#f4f1e8' })
      .setOrigin(0, 1)
      .setDepth(2);
    for (let c = 0; c < this.columns; c++) {
      this.indexLabels.push(
        scene.add
          .text(this.colX(c) + LOG_TABLE.tile / 2, LOG_TABLE.y + 2, '', { fontFamily: 'Verdana, sans-serif', fontSize: '9px', color: '#b9b4a4' })
          .setOrigin(0.5, 0)
          .setDepth(2),
      );
    }
  }

  update(): void {
    const peers = [...this.model.peers.values()];
    this.ensureRows(peers.length);
    const { first } = logWindow(this.model.maxIndex(), this.columns);
    const g = this.g;
    g.clear();
    g.fillStyle(0x000000, 0.28);
    g.fillRoundedRect(LOG_TABLE.x - 6, LOG_TABLE.y - 2, LOG_TABLE.width + 12, LOG_TABLE.height + 4, 6);
    this.title.setText(`Logs by index (solid = committed, outlined = not yet; colour = term)   commit ${this.model.commitIndex()}`);
    for (let c = 0; c < this.columns; c++) {
      const index = first + c;
      this.indexLabels[c]!.setText(index === 1 || index % 5 === 0 ? String(index) : '');
    }
    const drawn: Record<string, string[]> = {};
    const marked: string[] = [];
    const lawTiles = this.model.lawHighlight().tiles;
    const rowH = this.rowHeight(peers.length);
    const tile = Math.min(LOG_TABLE.tile, rowH - 3);
    peers.forEach((p, r) => {
      const y = LOG_TABLE.y + 16 + r * rowH;
      const look = this.model.lookOf(p);
      const dim = look === 'grave' || look === 'unreachable';
      const name = this.names[r]!;
      name.setText(`${look === 'leader' ? '♛ ' : ''}${p.name}`);
      name.setPosition(LOG_TABLE.x + LOG_TABLE.nameWidth - 8, y + tile / 2);
      setColour(name, dim ? '#8d8a80' : look === 'leader' ? '#ffd700' : '#f4f1e8');
      const row: string[] = (drawn[p.name] = []);
      for (let c = 0; c < this.columns; c++) {
        const index = first + c;
        const x = this.colX(c);
        const cell = this.cells[r]![c]!;
        const t = this.model.tileAt(p, index);
        if (!t) {
          g.lineStyle(1, 0xffffff, 0.08);
          g.strokeRect(x, y, tile, tile);
          cell.setText('');
          continue;
        }
        const colour = termColour(t.term);
        const alpha = dim ? 0.45 : 1;
        const committed = this.model.isCommitted(p, index);
        row.push(`${index}:${t.term}${committed ? 'c' : 'o'}`);
        if (committed) {
          g.fillStyle(colour, alpha);
          g.fillRect(x, y, tile, tile);
        } else {
          g.fillStyle(colour, 0.12 * alpha);
          g.fillRect(x, y, tile, tile);
          g.lineStyle(2, colour, alpha);
          g.strokeRect(x + 1, y + 1, tile - 2, tile - 2);
        }
        if (lawTiles.has(`${p.name}:${index}`)) {
          g.lineStyle(4, 0x000000, 0.6);
          g.strokeRect(x - 3, y - 3, tile + 6, tile + 6);
          g.lineStyle(2, COLOURS.law, 1);
          g.strokeRect(x - 3, y - 3, tile + 6, tile + 6);
          marked.push(`${p.name}:${index}`);
        }
        cell.setText(String(t.term));
        cell.setPosition(x + tile / 2, y + tile / 2);
        setColour(cell, committed ? '#111111' : '#f4f1e8');
        cell.setAlpha(alpha);
      }
    });
    this.drawn = drawn;
    this.marked = marked;
  }

  private rowHeight(n: number): number {
    return Math.max(12, Math.min(LOG_TABLE.tile + LOG_TABLE.gap, Math.floor((LOG_TABLE.height - 18) / Math.max(1, n))));
  }

  private colX(c: number): number {
    return LOG_TABLE.x + LOG_TABLE.nameWidth + c * (LOG_TABLE.tile + LOG_TABLE.gap);
  }

  private ensureRows(n: number): void {
    while (this.names.length < n) {
      this.names.push(
        this.scene.add.text(0, 0, '', { fontFamily: 'Verdana, sans-serif', fontSize: '12px', color: '#f4f1e8' }).setOrigin(1, 0.5).setDepth(2),
      );
      const row: Phaser.GameObjects.Text[] = [];
      for (let c = 0; c < this.columns; c++) {
        row.push(this.scene.add.text(0, 0, '', { fontFamily: 'Verdana, sans-serif', fontSize: '10px', color: '#111111' }).setOrigin(0.5).setDepth(2));
      }
      this.cells.push(row);
    }
    while (this.names.length > n) {
      this.names.pop()!.destroy();
      for (const t of this.cells.pop()!) t.destroy();
    }
  }
}
