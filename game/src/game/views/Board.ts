// The village board: the replicated key-value store as the most advanced peer applied it.
// Its posts and face never change (`still`: the scene draws them into the backdrop); the text is
// rewritten only when the KV picture changed, on a lighter face for a moment after (the title
// stays a Phaser object, above that face).
import Phaser from 'phaser';
import { BOARD } from '../layout.ts';
import { short, type VillageModel } from '../../model.ts';

const MAX_ROWS = 12;

export class Board {
  /** What never changes: the posts and the board's face and frame. */
  readonly still: Phaser.GameObjects.GameObject[];
  private readonly flash: Phaser.GameObjects.Graphics;
  private readonly body: Phaser.GameObjects.Text;
  private lastText = '';
  private flashUntil = 0;
  private drawnKv = -1;
  private drawnFlash: boolean | null = null;

  constructor(
    scene: Phaser.Scene,
    private readonly model: VillageModel,
  ) {
    const bg = scene.add.graphics().setDepth(1);
    drawBoard(bg, false);
    this.flash = scene.add.graphics().setDepth(1).setVisible(false);
    drawBoard(this.flash, true);
    scene.add
      .text(BOARD.x + 14, BOARD.y + 10, 'Village board (key-value store)', { fontFamily: 'Verdana, sans-serif', fontSize: '14px', fontStyle: 'bold', color: '#3b2a14' })
      .setDepth(2);
    this.still = [bg];
    this.body = scene.add
      .text(BOARD.x + 16, BOARD.y + 38, '', { fontFamily: 'Menlo, Consolas, monospace', fontSize: '14px', color: '#2a1d0c', lineSpacing: 4 })
      .setDepth(2);
  }

  update(now: number): void {
    if (this.model.kvVersion !== this.drawnKv) {
      this.drawnKv = this.model.kvVersion;
      this.write(now);
    }
    const flash = now < this.flashUntil;
    if (flash !== this.drawnFlash) {
      this.drawnFlash = flash;
      this.flash.setVisible(flash);
    }
  }

  private write(now: number): void {
    const keys = Object.keys(this.model.kv).sort();
    let text: string;
    if (keys.length === 0) text = '(empty)\n\ntry in the console:\n  x add 100';
    else {
      const rows = keys.slice(0, MAX_ROWS).map((k) => `${short(k, 12)} = ${short(this.model.kv[k], 18)}`);
      if (keys.length > MAX_ROWS) rows.push(`… and ${keys.length - MAX_ROWS} more`);
      text = rows.join('\n');
    }
    if (text !== this.lastText) {
      if (this.lastText !== '') this.flashUntil = now + 600;
      this.lastText = text;
      this.body.setText(text);
    }
  }

  /** The lines shown on the board (for the test hook). */
  get lines(): string[] {
    return this.lastText.split('\n');
  }
}

/** The board's posts, face and frame; `flash`: the lighter face shown right after a change. */
function drawBoard(g: Phaser.GameObjects.Graphics, flash: boolean): void {
  g.fillStyle(0x6b4a2b);
  g.fillRect(BOARD.x + 30, BOARD.y + BOARD.height, 10, 30);
  g.fillRect(BOARD.x + BOARD.width - 40, BOARD.y + BOARD.height, 10, 30);
  g.fillStyle(flash ? 0xfff6c9 : 0xe9d8a6);
  g.fillRoundedRect(BOARD.x, BOARD.y, BOARD.width, BOARD.height, 8);
  g.lineStyle(4, 0x8a6a3c);
  g.strokeRoundedRect(BOARD.x, BOARD.y, BOARD.width, BOARD.height, 8);
}
