// One villager on the square: body (shirt in the term's colour), crown for a leader, a raised
// hand for a candidate, the election-timer ring, name and state lines, a gravestone when its
// process is down, a white ring when a broken law involves it, and the click target that
// kills, revives or opens the menu. A newcomer (a learner: it receives the log but does not vote
// yet) is drawn lighter, with no timer ring, before the house it moved into; a villager that
// appears after the village was first drawn walks in from that house, and one that moves out
// walks away and fades.
// The rings and the three lines under the name change far less often than frames are drawn:
// they are painted with the 2D API onto the backdrop (views/Backdrop.ts), again only when what
// they show changed; the body, the gravestone, the icons and the bubble are Phaser objects.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';
import { SQUARE, type Point } from '../layout.ts';
import type { Look, Villager } from '../../model.ts';
import { COLOURS, termColour } from '../palette.ts';
import { ringColour, ringShare } from '../timerRing.ts';
import type { Backdrop } from './Backdrop.ts';
import { canvasText, paintText, setColour, setTextAtMost, textRect } from './text.ts';

const RING_RADIUS = 40;
const BUBBLE_MS = 2500;
/** How far the rings reach from the villager's centre (the law's ring, its dark edge included). */
const RING_REACH = RING_RADIUS + 16 + 6;

/** What the rings around a villager show: equal pictures are the same pixels. */
interface RingPicture {
  hover: boolean;
  /** The law's ring's opacity while a broken law involves the villager (pulsing), else null. */
  law: number | null;
  fence: boolean;
  /** The leader's halo, the election timer's share left (0 = the dark ring alone), or nothing. */
  timer: 'leader' | number | null;
}

export class VillagerView {
  readonly name: string;
  point: Point;
  private readonly body: Phaser.GameObjects.Container;
  private readonly shirt: Phaser.GameObjects.Image;
  private readonly crown: Phaser.GameObjects.Image;
  private readonly hand: Phaser.GameObjects.Image;
  private readonly grave: Phaser.GameObjects.Image;
  private readonly house: Phaser.GameObjects.Image;
  private readonly nosignal: Phaser.GameObjects.Image;
  private readonly nameText: Phaser.GameObjects.Text;
  private readonly infoText: Phaser.GameObjects.Text;
  private readonly stateText: Phaser.GameObjects.Text;
  private readonly bubble: Phaser.GameObjects.Text;
  private readonly zone: Phaser.GameObjects.Zone;
  private look: Look | null = null;
  private walk: Phaser.Tweens.Tween | null = null;
  private hover = false;
  private fenced = false;
  private marked = false;
  /** What was last painted onto the backdrop (rings and lines), to paint again only on a change. */
  private painted = '';

  constructor(
    private readonly scene: Phaser.Scene,
    private readonly ctx: VillageContext,
    private readonly backdrop: Backdrop,
    name: string,
    point: Point,
  ) {
    this.name = name;
    this.point = point;
    const { x, y } = point;
    const h = housePoint(point);
    this.house = scene.add.image(h.x, h.y, 'house').setDepth(8).setVisible(false);
    const legs = scene.add.image(0, 19, 'legs');
    this.shirt = scene.add.image(0, 2, 'shirt');
    const head = scene.add.image(0, -23, 'head');
    this.crown = scene.add.image(0, -42, 'crown').setVisible(false);
    this.hand = scene.add.image(19, -14, 'hand').setVisible(false);
    this.body = scene.add.container(x, y, [legs, this.shirt, this.hand, head, this.crown]).setDepth(10);
    this.grave = scene.add.image(x, y + 4, 'grave').setDepth(10).setVisible(false);
    this.nosignal = scene.add.image(x + 22, y - 36, 'nosignal').setDepth(11).setVisible(false);
    const textStyle = { fontFamily: 'Verdana, sans-serif', align: 'center' } as const;
    this.nameText = canvasText(scene, x, y + 44, name, { ...textStyle, fontSize: '15px', fontStyle: 'bold', color: '#ffffff', stroke: '#000000', strokeThickness: 3 }).setOrigin(0.5, 0);
    this.infoText = canvasText(scene, x, y + 63, '', { ...textStyle, fontSize: '12px', color: '#f4f1e8', stroke: '#000000', strokeThickness: 3 }).setOrigin(0.5, 0);
    this.stateText = canvasText(scene, x, y + 79, '', { ...textStyle, fontSize: '11px', color: '#d8d2bf', stroke: '#000000', strokeThickness: 3 }).setOrigin(0.5, 0);
    this.bubble = scene.add
      .text(x, y - 62, '', { ...textStyle, fontSize: '11px', color: '#1b1b1b', backgroundColor: '#fffbe6', padding: { x: 4, y: 2 } })
      .setOrigin(0.5, 1)
      .setDepth(40)
      .setVisible(false);
    this.zone = scene.add.zone(x, y - 6, 84, 104).setInteractive({ useHandCursor: true });
    this.zone.on('pointerdown', (pointer: Phaser.Input.Pointer) => this.onPointerDown(pointer));
    this.zone.on('pointerover', () => (this.hover = true));
    this.zone.on('pointerout', () => (this.hover = false));
  }

  /** What this villager looks like right now (the test hook reports it). */
  get currentLook(): Look | null {
    return this.look;
  }

  /** Whether the fence of an isolated villager is drawn around it right now. */
  get currentFence(): boolean {
    return this.fenced;
  }

  /** Whether it is drawn highlighted for a broken law right now. */
  get currentMark(): boolean {
    return this.marked;
  }

  moveTo(point: Point): void {
    this.point = point;
    const { x, y } = point;
    // A walk in that was under way ends where the villager now stands.
    this.walk?.stop();
    this.walk = null;
    this.body.setPosition(x, y);
    this.grave.setPosition(x, y + 4);
    const h = housePoint(point);
    this.house.setPosition(h.x, h.y);
    this.nosignal.setPosition(x + 22, y - 36);
    this.nameText.setPosition(x, y + 44);
    this.infoText.setPosition(x, y + 63);
    this.stateText.setPosition(x, y + 79);
    this.bubble.setPosition(x, y - 62);
    this.zone.setPosition(x, y - 6);
  }

  /** `marked`: a broken law involves this villager (it gets the law's ring). */
  update(p: Villager, localNow: number, marked = false): void {
    this.marked = marked;
    const model = this.ctx.model;
    const look = model.lookOf(p);
    if (look !== this.look) this.changeLook(this.look, look);
    this.look = look;

    const newcomer = look === 'newcomer';
    this.shirt.setTint(newcomer ? lighter(termColour(p.term)) : termColour(p.term));
    this.house.setVisible(newcomer);
    this.crown.setVisible(look === 'leader');
    this.hand.setVisible(look === 'candidate' || look === 'precandidate');
    this.hand.setAlpha(look === 'precandidate' ? 0.55 : 1);
    this.nosignal.setVisible(look === 'unreachable');
    if (look !== 'grave' && !this.tweening()) this.body.setAlpha(look === 'unreachable' ? 0.4 : newcomer ? 0.75 : 1);

    // Under load the log and commit indexes change on every frame: a few updates a second show them.
    setTextAtMost(this.infoText, this.infoLine(p, look));
    const cut = look === 'grave' ? [] : model.cutFrom(p.name);
    setTextAtMost(this.stateText, this.stateLine(p, look, model.isolated(p.name), cut));
    setColour(this.stateText, look === 'grave' || cut.length ? '#ff9e9e' : look === 'unreachable' ? '#ffd166' : newcomer ? '#bfe6ff' : '#d8d2bf');
    setColour(this.nameText, this.hover ? '#ffe27a' : '#ffffff');

    const a = p.lastApply;
    if (a && localNow - a.at < BUBBLE_MS && look !== 'grave') {
      setTextAtMost(this.bubble, `#${a.index} ${a.label} → ${a.result}`);
      this.bubble.setVisible(true);
      this.bubble.setAlpha(Math.min(1, (BUBBLE_MS - (localNow - a.at)) / 500));
    } else {
      this.bubble.setVisible(false);
    }
    this.paint(this.ringPicture(p, look, localNow));
  }

  destroy(): void {
    this.backdrop.layer(this.name, null);
    for (const o of [this.house, this.body, this.grave, this.nosignal, this.nameText, this.infoText, this.stateText, this.bubble, this.zone]) o.destroy();
  }

  /** Moving in: it walks from its house (at the edge of the village) to its place. */
  walkIn(): void {
    const h = housePoint(this.point);
    this.body.setPosition(h.x, h.y + 10);
    this.walk = this.scene.tweens.add({ targets: this.body, x: this.point.x, y: this.point.y, duration: 1200, ease: 'Sine.easeInOut', onComplete: () => (this.walk = null) });
  }

  /**
   * Moving out (it left the cluster): everything but its body goes at once, and the body walks
   * away from the well, fading, then is destroyed. No gravestone: a removal is not a crash.
   */
  walkOut(): void {
    this.backdrop.layer(this.name, null);
    for (const o of [this.house, this.grave, this.nosignal, this.nameText, this.infoText, this.stateText, this.bubble, this.zone]) o.destroy();
    const away = housePoint(this.point, 90);
    this.scene.tweens.killTweensOf(this.body);
    this.body.setVisible(true).setAngle(0);
    this.scene.tweens.add({ targets: this.body, x: away.x, y: away.y, alpha: 0, duration: 1200, ease: 'Sine.easeIn', onComplete: () => this.body.destroy() });
  }

  private infoLine(p: Villager, look: Look): string {
    if (look === 'grave') return p.term ? `was term ${p.term}` : '';
    const vote = p.role === 'leader' ? 'leads' : p.vote ? `voted ${p.vote}` : 'no vote';
    return `term ${p.term} · ${vote}`;
  }

  private stateLine(p: Villager, look: Look, isolated: boolean, cut: string[]): string {
    const faults = isolated ? ' · isolated' : cut.length ? ` · cut from ${cut.join(', ')}` : '';
    switch (look) {
      case 'grave':
        return 'dead · click to revive';
      case 'unreachable':
        return p.process === 'up' ? 'unreachable (no events)' : 'not heard from';
      case 'precandidate':
        return `pre-vote${faults}`;
      default:
        return `${look} · log ${p.lastIndex} · commit ${p.commitIndex}${faults}`;
    }
  }

  private ringPicture(p: Villager, look: Look, localNow: number): RingPicture {
    this.fenced = look !== 'grave' && this.ctx.model.isolated(p.name);
    // A broken law's ring pulses; its opacity in twentieths is as smooth as the eye can tell.
    const law = this.marked ? Math.round((0.55 + 0.45 * Math.abs(Math.sin(localNow / 300))) * 20) / 20 : null;
    let timer: RingPicture['timer'] = null;
    // A newcomer does not vote or campaign: no election timer is drawn for it.
    if (look === 'leader') timer = 'leader';
    else if (look !== 'newcomer') {
      const left = this.ctx.model.timerLeft(p, localNow);
      if (left !== null) timer = ringShare(left);
    }
    return { hover: this.hover && look !== 'grave', law, fence: this.fenced, timer };
  }

  /** Paints the rings and the three lines onto the backdrop, if they changed since last painted. */
  private paint(ring: RingPicture): void {
    const texts = [this.nameText, this.infoText, this.stateText];
    const cx = this.point.x;
    const cy = this.point.y - 4;
    const key = `${cx},${cy}|${ring.hover}|${ring.law}|${ring.fence}|${ring.timer}|${texts.map((t) => `${t.text}|${t.style.color}`).join('|')}`;
    if (key === this.painted) return;
    this.painted = key;
    let x0 = cx - RING_REACH;
    let y0 = cy - RING_REACH;
    let x1 = cx + RING_REACH;
    let y1 = cy + RING_REACH;
    for (const t of texts) {
      const r = textRect(t);
      if (!r) continue;
      x0 = Math.min(x0, r.x);
      y0 = Math.min(y0, r.y);
      x1 = Math.max(x1, r.x + r.w);
      y1 = Math.max(y1, r.y + r.h);
    }
    x0 = Math.floor(x0);
    y0 = Math.floor(y0);
    this.backdrop.layer(this.name, { x: x0, y: y0, w: Math.ceil(x1) - x0, h: Math.ceil(y1) - y0 }, (g) => {
      drawRings(g, cx, cy, ring);
      for (const t of texts) paintText(g, t);
    });
  }

  private tweening(): boolean {
    return this.scene.tweens.isTweening(this.body) || this.scene.tweens.isTweening(this.grave);
  }

  private changeLook(from: Look | null, to: Look): void {
    const tweens = this.scene.tweens;
    // A walk in goes on through a change of look (a newcomer starts reporting on its way), unless it dies.
    for (const t of tweens.getTweensOf(this.body)) if (t !== this.walk) t.stop();
    tweens.killTweensOf(this.grave);
    if (to === 'grave' && this.walk) {
      this.walk.stop();
      this.walk = null;
      this.body.setPosition(this.point.x, this.point.y);
    }
    if (to === 'grave') {
      if (from === null) {
        this.body.setVisible(false);
        this.grave.setVisible(true).setScale(1).setAlpha(1);
        return;
      }
      // The villager falls over, then a gravestone rises.
      this.body.setVisible(true).setAngle(0).setAlpha(1);
      tweens.add({
        targets: this.body,
        angle: 90,
        alpha: 0,
        duration: 600,
        ease: 'Quad.easeIn',
        onComplete: () => {
          this.body.setVisible(false);
          this.grave.setVisible(true).setScale(0.2).setAlpha(1);
          tweens.add({ targets: this.grave, scale: 1, duration: 400, ease: 'Back.easeOut' });
        },
      });
      return;
    }
    this.grave.setVisible(false);
    this.body.setVisible(true).setAngle(0).setAlpha(1).setScale(1);
    if (from === 'grave') {
      // Back from the dead: pops up where the stone was.
      this.body.setScale(0.3);
      tweens.add({ targets: this.body, scale: 1, duration: 500, ease: 'Back.easeOut' });
    }
  }

  private onPointerDown(pointer: Phaser.Input.Pointer): void {
    const ev = pointer.event as MouseEvent | undefined;
    const p = this.ctx.model.peers.get(this.name);
    if (!p || this.ctx.ui.menuClosedBy(ev)) return;
    if (pointer.rightButtonDown() || ev?.shiftKey) {
      this.ctx.ui.openMenu(this.name, ev?.clientX ?? 0, ev?.clientY ?? 0);
      return;
    }
    this.ctx.ui.closeMenu();
    if (this.ctx.model.lookOf(p) === 'grave') void this.ctx.actions.revive(this.name);
    else void this.ctx.actions.kill(this.name);
  }
}

/** Where a villager's house stands: behind it, away from the well (`by` px further out), kept on the square's ground. */
function housePoint(p: Point, by = 58): Point {
  const dx = p.x - SQUARE.x;
  const dy = p.y - SQUARE.y;
  const d = Math.hypot(dx, dy) || 1;
  return { x: Math.round(Math.min(740, Math.max(30, p.x + (dx / d) * by))), y: Math.round(Math.min(585, Math.max(40, p.y + (dy / d) * by - 30))) };
}

/** A term colour halfway to white: a newcomer's shirt. */
function lighter(c: number): number {
  const mix = (v: number) => Math.round(v + (255 - v) * 0.55);
  return (mix((c >> 16) & 0xff) << 16) | (mix((c >> 8) & 0xff) << 8) | mix(c & 0xff);
}

const rgba = (c: number, a: number) => `rgba(${(c >> 16) & 0xff},${(c >> 8) & 0xff},${c & 0xff},${a})`;

/** The rings around a villager centred at (cx, cy), with the 2D API. */
function drawRings(g: CanvasRenderingContext2D, cx: number, cy: number, ring: RingPicture): void {
  const arc = (width: number, colour: number, alpha: number, r: number, from = 0, to = Math.PI * 2) => {
    g.lineWidth = width;
    g.strokeStyle = rgba(colour, alpha);
    g.beginPath();
    g.arc(cx, cy, r, from, to, false);
    g.stroke();
  };
  if (ring.hover) {
    g.fillStyle = rgba(0xffffff, 0.08);
    g.beginPath();
    g.arc(cx, cy, RING_RADIUS + 6, 0, Math.PI * 2);
    g.fill();
  }
  if (ring.law !== null) {
    // A broken law involves this villager: a thick white ring on a dark one, pulsing.
    arc(10, 0x000000, 0.5, RING_RADIUS + 16);
    arc(5, COLOURS.law, ring.law, RING_RADIUS + 16);
  }
  if (ring.fence) {
    // An isolated villager (cut from every other) stands behind a dashed red fence; a link cut
    // by a partition is drawn between the two villagers instead (CutLinks).
    for (let i = 0; i < 24; i += 2) arc(3, 0xff5252, 0.9, RING_RADIUS + 9, (i / 24) * Math.PI * 2, ((i + 1) / 24) * Math.PI * 2);
  }
  if (ring.timer === 'leader') {
    arc(3, 0xffd700, 0.55, RING_RADIUS);
    return;
  }
  if (ring.timer === null) return;
  const left = ring.timer;
  arc(5, 0x000000, 0.35, RING_RADIUS);
  if (left <= 0) return;
  arc(5, ringColour(left), 0.95, RING_RADIUS, -Math.PI / 2, -Math.PI / 2 + left * Math.PI * 2);
}
