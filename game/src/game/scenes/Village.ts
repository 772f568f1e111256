// The village square: villagers on a circle, letters flying between them, the monster, the
// key-value board, a legend and the log table. Draws the model every frame; sends intents
// through the context when a villager is clicked. What never changes (the ground, the legend,
// the frames of the board and the log table) is drawn once into the backdrop behind the canvas.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';
import { BOARD, SQUARE, villagerPositions, type Point } from '../layout.ts';
import { Backdrop } from '../views/Backdrop.ts';
import { Board } from '../views/Board.ts';
import { CutLinks } from '../views/CutLinks.ts';
import { LETTER_TINTS } from '../letterMotion.ts';
import { Letters } from '../views/Letters.ts';
import { LogTable } from '../views/LogTable.ts';
import { MonsterView } from '../views/MonsterView.ts';
import { VillagerView } from '../views/VillagerView.ts';

const LOG_TABLE_EVERY_MS = 100;

export class Village extends Phaser.Scene {
  private villagers = new Map<string, VillagerView>();
  private letters!: Letters;
  private cutLinks!: CutLinks;
  private monster!: MonsterView;
  private board!: Board;
  private logTable!: LogTable;
  private backdrop!: Backdrop;
  private layoutKey = '';
  private drawnVersion = -1;
  private logTableAt = -Infinity;

  constructor(readonly ctx: VillageContext) {
    super('Village');
  }

  create(): void {
    this.backdrop = new Backdrop(this.game, this.scale.width, this.scale.height);
    const first = this.children.list.length;
    this.drawGround();
    this.drawLegend();
    const still = this.children.list.slice(first);
    this.board = new Board(this, this.ctx.model, this.backdrop);
    this.logTable = new LogTable(this, this.ctx.model, this.backdrop);
    this.backdrop.bake(this, 'village-still', [...still, ...this.board.still, ...this.logTable.still]);
    this.monster = new MonsterView(this, this.ctx.model);
    this.letters = new Letters(this, this.ctx.model);
    this.cutLinks = new CutLinks(this.backdrop, this.ctx.model);
    this.ctx.view = {
      villagerPoint: (name) => this.villagers.get(name)?.point ?? null,
      villagerLook: (name) => this.villagers.get(name)?.currentLook ?? null,
      villagerFenced: (name) => this.villagers.get(name)?.currentFence ?? false,
      cutLinks: () => this.cutLinks.links(),
      logRows: () => this.logTable.drawn,
      snapshotBlocks: () => ({ ...this.logTable.snapshots }),
      boardLines: () => this.board.lines,
      letters: () => this.letters.count,
      letterAt: (x, y) => this.letters.at(x, y),
      letterPoints: () => this.letters.drawn(),
      highlighted: () => ({ villagers: [...this.villagers.values()].filter((v) => v.currentMark).map((v) => v.name), tiles: this.logTable.marked.slice() }),
    };
    this.input.on('pointerdown', (p: Phaser.Input.Pointer, over: Phaser.GameObjects.GameObject[]) => {
      if (over.length !== 0) return;
      this.ctx.ui.closeMenu();
      // A click on a letter in flight reads it (letters are not interactive objects: one hit
      // test per click costs less than input checks on every letter every frame).
      const rid = this.ctx.ui.menuClosedBy(p.event) ? null : this.letters.at(p.x, p.y);
      const ev = p.event as MouseEvent | undefined;
      if (rid) this.ctx.ui.openLetter(rid, ev?.clientX ?? 0, ev?.clientY ?? 0);
    });
    this.scene.launch('Hud', { backdrop: this.backdrop });
    this.events.once(Phaser.Scenes.Events.SHUTDOWN, () => {
      this.ctx.view = null;
      this.backdrop.destroy();
    });
  }

  override update(_time: number, delta: number): void {
    const model = this.ctx.model;
    const now = this.ctx.now();
    model.prune(now);
    this.syncVillagers();
    this.backdrop.update(this.cameras.main);
    const marked = model.lawHighlight().villagers;
    for (const [name, v] of this.villagers) {
      const p = model.peers.get(name);
      if (p) v.update(p, now, marked.has(name));
    }
    const where = (name: string): Point | null => this.villagers.get(name)?.point ?? null;
    this.cutLinks.update(where);
    this.letters.update(now, where);
    this.monster.update(now, delta, where);
    this.board.update(now);
    // The table is painted again at most every LOG_TABLE_EVERY_MS: under load the logs grow on
    // every frame, and a person reads a few changes a second (a change after a quiet spell shows
    // at once, the latest always within that time).
    const wall = performance.now();
    if (model.version !== this.drawnVersion && (wall - this.logTableAt >= LOG_TABLE_EVERY_MS || wall < this.logTableAt)) {
      this.drawnVersion = model.version;
      this.logTableAt = wall;
      this.logTable.update();
    }
  }

  /**
   * One view per peer, on the circle, in the cluster's order. Once the live village was drawn
   * with its villagers, one that appears moves in (walks in from its house) and one that is gone
   * from the picture moved out (walks away); a rewound or replayed village just redraws.
   */
  private syncVillagers(): void {
    const names = this.ctx.model.names();
    const key = names.join(',');
    if (key === this.layoutKey) return;
    const settled = this.layoutKey !== '' && this.ctx.model.hasPicture && this.ctx.ui.liveOnly() === null;
    this.layoutKey = key;
    const points = villagerPositions(names.length);
    for (const [name, v] of this.villagers) {
      if (!names.includes(name)) {
        if (settled) v.walkOut();
        else v.destroy();
        this.villagers.delete(name);
      }
    }
    names.forEach((name, i) => {
      const existing = this.villagers.get(name);
      if (existing) existing.moveTo(points[i]!);
      else {
        const v = new VillagerView(this, this.ctx, this.backdrop, name, points[i]!);
        this.villagers.set(name, v);
        if (settled) v.walkIn();
      }
    });
  }

  private drawGround(): void {
    const g = this.add.graphics().setDepth(0);
    g.fillStyle(0x3f6b3a);
    g.fillRect(0, 0, this.scale.width, this.scale.height);
    // Grass texture: a few darker and lighter tufts, placed the same way every time.
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 260; i++) {
      g.fillStyle(rnd() < 0.5 ? 0x376232 : 0x4a7a43, 0.8);
      g.fillEllipse(rnd() * this.scale.width, rnd() * 560, 10 + rnd() * 16, 4 + rnd() * 4);
    }
    // The village square: a sandy path around the well.
    g.fillStyle(0x8a7350, 0.55);
    g.fillEllipse(SQUARE.x, SQUARE.y, 2 * SQUARE.rx + 56, 2 * SQUARE.ry + 56);
    g.fillStyle(0x4d7a45);
    g.fillEllipse(SQUARE.x, SQUARE.y, 2 * SQUARE.rx - 60, 2 * SQUARE.ry - 60);
    this.add.image(SQUARE.x - 10, SQUARE.y - 10, 'well').setDepth(1);
    for (const [x, y] of [
      [34, 66],
      [92, 100],
      [728, 78],
      [30, 560],
      [738, 566],
    ] as const) {
      this.add.image(x, y, 'tree').setDepth(1);
    }
  }

  private drawLegend(): void {
    const x = BOARD.x;
    const y = BOARD.y + BOARD.height + 48;
    const g = this.add.graphics().setDepth(1);
    g.fillStyle(0x000000, 0.28);
    g.fillRoundedRect(x, y, BOARD.width, 190, 6);
    const style = { fontFamily: 'Verdana, sans-serif', fontSize: '11px', color: '#f4f1e8' };
    const row = (i: number) => y + 14 + i * 19;
    this.add.image(x + 18, row(0), 'crown').setScale(0.6).setDepth(2);
    this.add.text(x + 34, row(0), 'leader    ', style).setOrigin(0, 0.5).setDepth(2);
    this.add.image(x + 118, row(0), 'hand').setScale(0.6).setDepth(2);
    this.add.text(x + 130, row(0), 'candidate (faint: pre-vote)', style).setOrigin(0, 0.5).setDepth(2);
    this.add.image(x + 18, row(1), 'grave').setScale(0.4).setDepth(2);
    this.add.text(x + 34, row(1), 'dead', style).setOrigin(0, 0.5).setDepth(2);
    this.add.image(x + 118, row(1), 'nosignal').setScale(0.7).setDepth(2);
    this.add.text(x + 130, row(1), 'unreachable (no events)', style).setOrigin(0, 0.5).setDepth(2);
    g.lineStyle(3, 0xfff3b0);
    g.beginPath();
    g.arc(x + 18, row(2), 7, -Math.PI / 2, Math.PI, false);
    g.strokePath();
    this.add.text(x + 34, row(2), 'election timer (drains; empty = election)', style).setOrigin(0, 0.5).setDepth(2);
    const letter = (i: number, col: number, tint: number, label: string, small = false) => {
      this.add
        .image(x + 18 + col, row(i), small ? 'letter-small' : 'letter')
        .setTint(tint)
        .setScale(0.8)
        .setDepth(2);
      this.add.text(x + 34 + col, row(i), label, style).setOrigin(0, 0.5).setDepth(2);
    };
    letter(3, 0, LETTER_TINTS.request_vote, 'vote request');
    letter(3, 140, LETTER_TINTS.vote_granted, 'vote granted');
    letter(4, 0, LETTER_TINTS.vote_refused, 'vote refused');
    letter(4, 140, LETTER_TINTS.append_entries, 'entries');
    letter(5, 0, LETTER_TINTS.append_entries, 'heartbeat', true);
    letter(5, 140, LETTER_TINTS.append_ok, 'append ok');
    letter(6, 0, LETTER_TINTS.append_refused, 'append refused (logs differ)');
    this.add.image(x + 18 + 200, row(6), 'book').setScale(0.8).setDepth(2);
    this.add.text(x + 34 + 200, row(6), 'snapshot', style).setOrigin(0, 0.5).setDepth(2);
    this.add.text(x + 10, row(7) + 6, 'shirt colour = term · click: kill / revive', { ...style, color: '#d8d2bf' }).setOrigin(0, 0.5).setDepth(2);
    this.add.text(x + 10, row(8) + 6, 'shift-click / right-click: menu · ? help', { ...style, color: '#d8d2bf' }).setOrigin(0, 0.5).setDepth(2);
  }
}
