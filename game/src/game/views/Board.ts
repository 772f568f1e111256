// The village board: the replicated key-value store as the most advanced peer applied it.
// Its posts and face never change (`still`: the scene draws them into the backdrop); the title
// and the text are painted over them with the 2D API, again only when the text changed, on a
// lighter face for a moment after. Under load the text changes with every write: it is set at
// most four times a second (setTextAtMost), the latest within 250 ms.
import Phaser from 'phaser';
import { BOARD } from '../layout.ts';
import { short, type VillageModel } from '../../model.ts';
import type { Backdrop } from './Backdrop.ts';
import { canvasText, paintText, setTextAtMost } from './text.ts';

const MAX_ROWS = 12;
/** The board's face with its frame (4 px, half of it outside the face). */
const AREA = { x: BOARD.x - 2, y: BOARD.y - 2, w: BOARD.width + 4, h: BOARD.height + 4 };

export class Board {
  /** What never changes: the posts and the board's face and frame. */
  readonly still: Phaser.GameObjects.GameObject[];
  private readonly title: Phaser.GameObjects.Text;
  private readonly body: Phaser.GameObjects.Text;
  private lastText = '';
  private flashUntil = 0;
  private drawnKv = -1;
  /** What was last painted (the face, lighter or not, and the text). */
  private painted = '';

  constructor(
    scene: Phaser.Scene,
    private readonly model: VillageModel,
    private readonly backdrop: Backdrop,
  ) {
    const bg = scene.add.graphics().setDepth(1);
    drawBoard(bg);
    this.title = canvasText(scene, BOARD.x + 14, BOARD.y + 10, 'Village board (key-value store)', { fontFamily: 'Verdana, sans-serif', fontSize: '14px', fontStyle: 'bold', color: '#3b2a14' });
    this.still = [bg];
    this.body = canvasText(scene, BOARD.x + 16, BOARD.y + 38, '', { fontFamily: 'Menlo, Consolas, monospace', fontSize: '14px', color: '#2a1d0c', lineSpacing: 4 });
  }

  update(now: number): void {
    if (this.model.kvVersion !== this.drawnKv) {
      this.drawnKv = this.model.kvVersion;
      this.write(now);
    }
    setTextAtMost(this.body, this.lastText);
    const flash = now < this.flashUntil;
    const key = `${flash}|${this.body.text}`;
    if (key === this.painted) return;
    this.painted = key;
    this.backdrop.paint(AREA.x, AREA.y, AREA.w, AREA.h, (g) => {
      // The lighter face right after a change; otherwise the still picture's face shows.
      if (flash) paintFace(g, '#fff6c9');
      paintText(g, this.title);
      paintText(g, this.body);
    });
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
    }
  }

  /** The lines shown on the board (for the test hook). */
  get lines(): string[] {
    return this.body.text.split('\n');
  }
}

/** The board's posts, face and frame. */
function drawBoard(g: Phaser.GameObjects.Graphics): void {
  g.fillStyle(0x6b4a2b);
  g.fillRect(BOARD.x + 30, BOARD.y + BOARD.height, 10, 30);
  g.fillRect(BOARD.x + BOARD.width - 40, BOARD.y + BOARD.height, 10, 30);
  g.fillStyle(0xe9d8a6);
  g.fillRoundedRect(BOARD.x, BOARD.y, BOARD.width, BOARD.height, 8);
  g.lineStyle(4, 0x8a6a3c);
  g.strokeRoundedRect(BOARD.x, BOARD.y, BOARD.width, BOARD.height, 8);
}

/** The board's face and frame in `colour`, with the 2D API. */
function paintFace(g: CanvasRenderingContext2D, colour: string): void {
  g.beginPath();
  g.roundRect(BOARD.x, BOARD.y, BOARD.width, BOARD.height, 8);
  g.fillStyle = colour;
  g.fill();
  g.lineWidth = 4;
  g.strokeStyle = '#8a6a3c';
  g.stroke();
}
