// The monster. Its victims and the moments it strikes come from the relay (the nemesis lives
// there); only its idle wandering between attacks is decoration. With attacks off it sleeps
// by the well.
import Phaser from 'phaser';
import { SQUARE, type Point } from '../layout.ts';
import type { VillageModel } from '../../model.ts';
import { setColour } from './text.ts';

const WANDER_SPEED = 45;
const HUNT_SPEED = 150;
const STRIKE_MS = 2200;
const LAIR: Point = { x: SQUARE.x + 70, y: SQUARE.y + 40 };

export class MonsterView {
  private readonly sprite: Phaser.GameObjects.Image;
  private readonly label: Phaser.GameObjects.Text;
  private readonly flash: Phaser.GameObjects.Graphics;
  private pos: Point = { ...LAIR };
  private wanderTarget: Point = { ...LAIR };
  private struckAt = -1;

  constructor(
    private readonly scene: Phaser.Scene,
    private readonly model: VillageModel,
  ) {
    this.flash = scene.add.graphics().setDepth(19);
    this.sprite = scene.add.image(LAIR.x, LAIR.y, 'monster').setDepth(20);
    this.label = scene.add
      .text(LAIR.x, LAIR.y - 44, '', { fontFamily: 'Verdana, sans-serif', fontSize: '13px', fontStyle: 'bold', color: '#ffb3b3', stroke: '#000000', strokeThickness: 3 })
      .setOrigin(0.5, 1)
      .setDepth(21);
  }

  /** Where the monster is drawn (canvas coordinates). */
  get position(): Point {
    return { ...this.pos };
  }

  update(now: number, dtMs: number, where: (name: string) => Point | null): void {
    const m = this.model.monster;
    const dt = Math.min(0.1, dtMs / 1000);
    const victim = m.victim ? where(m.victim) : null;
    this.flash.clear();
    let shake = 0;
    if (!this.model.attacks && m.action === 'wander') {
      this.walk(LAIR, WANDER_SPEED, dt);
      this.label.setText('z z z');
      setColour(this.label, '#cfd8ff');
      this.sprite.setAlpha(0.8);
      this.sprite.setScale(1, 0.92 + 0.03 * Math.sin(now / 500));
    } else if (m.action === 'hunt' && victim) {
      // Arrive when the relay says the strike is due.
      const target = toward(victim, SQUARE, 52);
      const left = m.strikeAt !== null ? (m.strikeAt - now) / 1000 : null;
      const speed = left !== null && left > 0.2 ? Math.min(400, Math.max(60, dist(this.pos, target) / left)) : HUNT_SPEED;
      this.walk(target, speed, dt);
      this.label.setText(`hunting ${m.victim}!`);
      setColour(this.label, '#ffb3b3');
      this.sprite.setAlpha(1).setScale(1);
    } else if (m.action === 'strike' && victim && now - m.at < STRIKE_MS) {
      if (this.struckAt !== m.at) {
        this.struckAt = m.at;
        this.scene.cameras.main.shake(250, 0.006);
      }
      this.walk(toward(victim, SQUARE, 30), HUNT_SPEED * 2, dt);
      const k = (now - m.at) / STRIKE_MS;
      shake = Math.sin(now / 25) * 5 * (1 - k);
      this.flash.fillStyle(0xff2d2d, 0.45 * (1 - k));
      this.flash.fillCircle(victim.x, victim.y - 4, 46 + 30 * k);
      this.label.setText(`strikes ${m.victim}!`);
      setColour(this.label, '#ff6b6b');
      this.sprite.setAlpha(1).setScale(1.15 - 0.15 * k);
    } else {
      if (dist(this.pos, this.wanderTarget) < 4) this.wanderTarget = randomSpot();
      this.walk(this.wanderTarget, WANDER_SPEED, dt);
      this.label.setText(this.model.nextAttackLocal !== null ? `next attack in ${Math.max(0, Math.ceil((this.model.nextAttackLocal - now) / 1000))} s` : '');
      setColour(this.label, '#ffd0d0');
      this.sprite.setAlpha(1).setScale(1);
    }
    this.sprite.setPosition(this.pos.x + shake, this.pos.y + Math.sin(now / 180) * 1.5);
    this.label.setPosition(this.pos.x, this.pos.y - 36);
  }

  private walk(to: Point, speed: number, dt: number): void {
    const d = dist(this.pos, to);
    if (d < 0.5) return;
    const step = Math.min(d, speed * dt);
    this.pos.x += ((to.x - this.pos.x) / d) * step;
    this.pos.y += ((to.y - this.pos.y) / d) * step;
    this.sprite.setFlipX(to.x < this.pos.x - 1);
  }
}

function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** A point `by` px from p toward the square's centre. */
function toward(p: Point, c: Point, by: number): Point {
  const d = dist(p, c) || 1;
  return { x: p.x + ((c.x - p.x) / d) * by, y: p.y + ((c.y - p.y) / d) * by };
}

function randomSpot(): Point {
  const a = Math.random() * Math.PI * 2;
  const r = Math.sqrt(Math.random());
  return { x: SQUARE.x + r * (SQUARE.rx - 110) * Math.cos(a), y: SQUARE.y + r * (SQUARE.ry - 95) * Math.sin(a) };
}
