// The overlay above the village: the status line, the attack switch, the line about the laws
// of Raft (the relay's safety monitor), the connection banner when the relay is unreachable, a
// warning when the launcher is missing, and a toast for the last thing that went wrong.
// The bar and its lines change a few times a second at most: they are painted with the 2D API
// onto the village's backdrop (over the villagers' part of it), again only when they change; the
// banner and the toast, which must cover the village, are Phaser objects.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';
import type { VillageModel } from '../../model.ts';
import { lawsLine, type LawsTone } from '../lawsLine.ts';
import type { Backdrop } from '../views/Backdrop.ts';
import { canvasText, paintText, setBackground, setColour, setTextAtMost, textRect } from '../views/text.ts';

const LAWS_COLOURS: Record<LawsTone, string> = { hold: '#8fe388', partial: '#ffd166', broken: '#ff6b6b', unknown: '#d8d2bf' };

const TOAST_MS = 5000;
const BAR_HEIGHT = 30;

export class Hud extends Phaser.Scene {
  private status!: Phaser.GameObjects.Text;
  private attacks!: Phaser.GameObjects.Text;
  private warning!: Phaser.GameObjects.Text;
  private laws!: Phaser.GameObjects.Text;
  /** The laws line as drawn. */
  private lawsText = '';
  private lawsTone: LawsTone = 'unknown';
  private banner!: Phaser.GameObjects.Container;
  private bannerText!: Phaser.GameObjects.Text;
  private toast!: Phaser.GameObjects.Text;
  private toastSeq = 0;
  private toastUntil = 0;
  private backdrop!: Backdrop;
  /** The attack switch's click target (its text is painted, not a Phaser object). */
  private attacksZone!: Phaser.GameObjects.Zone;
  /** What was last painted onto the backdrop, to paint again only on a change. */
  private painted = '';

  constructor(readonly ctx: VillageContext) {
    super('Hud');
  }

  /** `backdrop`: the Village scene's, which launches this one. */
  create(data: { backdrop: Backdrop }): void {
    this.backdrop = data.backdrop;
    const w = this.scale.width;
    const h = this.scale.height;
    const font = { fontFamily: 'Verdana, sans-serif' };
    this.status = canvasText(this, 10, 15, '', { ...font, fontSize: '13px', color: '#f4f1e8' }).setOrigin(0, 0.5);
    this.attacks = canvasText(this, w - 10, 15, '', { ...font, fontSize: '13px', fontStyle: 'bold', color: '#ffffff', padding: { x: 8, y: 3 } }).setOrigin(1, 0.5);
    this.attacksZone = this.add.zone(w - 10, 15, 1, 1).setOrigin(1, 0.5).setInteractive({ useHandCursor: true });
    this.attacksZone.on('pointerdown', () => void this.ctx.actions.toggleAttacks());
    this.laws = canvasText(this, 10, 36, '', { ...font, fontSize: '12px', color: LAWS_COLOURS.unknown, stroke: '#000000', strokeThickness: 3 });
    this.warning = canvasText(this, 10, 54, '', { ...font, fontSize: '12px', color: '#ffd166', stroke: '#000000', strokeThickness: 3 });
    this.toast = this.add
      .text(w / 2, h - 178, '', { ...font, fontSize: '13px', color: '#ffffff', backgroundColor: '#8b1e1e', padding: { x: 10, y: 5 } })
      .setOrigin(0.5, 1)
      .setVisible(false);

    const shade = this.add.graphics();
    shade.fillStyle(0x000000, 0.55);
    shade.fillRect(0, 30, w, h - 30);
    const box = this.add.graphics();
    box.fillStyle(0x3a1414, 0.95);
    box.fillRoundedRect(w / 2 - 330, h / 2 - 60, 660, 120, 10);
    box.lineStyle(2, 0xff6b6b);
    box.strokeRoundedRect(w / 2 - 330, h / 2 - 60, 660, 120, 10);
    this.bannerText = this.add
      .text(w / 2, h / 2, '', { ...font, fontSize: '16px', color: '#ffffff', align: 'center', wordWrap: { width: 620 } })
      .setOrigin(0.5);
    this.banner = this.add.container(0, 0, [shade, box, this.bannerText]).setVisible(false);
    this.ctx.hud = { lawsLine: () => this.lawsText };
    this.events.once(Phaser.Scenes.Events.SHUTDOWN, () => {
      this.ctx.hud = null;
      this.backdrop.layer('hud', null);
    });
  }

  override update(): void {
    const model = this.ctx.model;
    const now = this.ctx.now(); // the model's time: live, or the moment a rewound page shows
    setTextAtMost(this.status, statusLine(model));
    const live = model.connection.state === 'open' && model.hasPicture;
    const liveOnly = this.ctx.ui.liveOnly();
    if (liveOnly) {
      // A replay or a rewound village: the switch shows what was, and does nothing.
      this.attacks.setText(`Attacks ${model.attacks ? 'ON' : 'OFF'} · ${liveOnly.startsWith('replay') ? 'replay: no cluster' : 'rewound: view only'}`);
      setBackground(this.attacks, '#555555');
    } else if (!live) {
      this.attacks.setText('Attacks ?  (relay unreachable)');
      setBackground(this.attacks, '#555555');
    } else if (model.attacks) {
      const next = model.nextAttackLocal !== null ? ` · next in ${Math.max(0, Math.ceil((model.nextAttackLocal - now) / 1000))} s` : '';
      this.attacks.setText(`Attacks ON${next}  [s]`);
      setBackground(this.attacks, '#b3261e');
    } else {
      this.attacks.setText('Attacks OFF  [s]');
      setBackground(this.attacks, '#2e7d32');
    }
    const warnings: string[] = [];
    if (model.connection.state === 'open' && model.hasPicture && model.peers.size === 0) warnings.push('no peer has reported yet: start the cluster with "npm run cluster -- 5 -v"');
    if (model.connection.state === 'open' && model.hasPicture && !model.launcher) warnings.push('cluster launcher not connected: kill and revive are unavailable');
    const silent = [...model.peers.values()].filter((p) => p.process !== 'down' && !p.reporting).map((p) => p.name);
    if (model.hasPicture && silent.length) warnings.push(`unreachable: ${silent.join(', ')} (no event stream)`);
    this.warning.setText(warnings.join('\n'));
    const laws = live ? lawsLine(model) : { text: '', tone: 'unknown' as const };
    // Its count of events checked grows with every event; its tone shows at once.
    if (laws.tone !== this.lawsTone) this.laws.setText(laws.text);
    else setTextAtMost(this.laws, laws.text);
    this.lawsTone = laws.tone;
    this.lawsText = this.laws.text;
    setColour(this.laws, LAWS_COLOURS[laws.tone]);
    const weight = laws.tone === 'broken' ? 'bold' : '';
    if (this.laws.style.fontStyle !== weight) this.laws.setFontStyle(weight);

    const c = model.connection;
    if (c.state === 'open' && model.hasPicture) {
      this.banner.setVisible(false);
    } else {
      this.banner.setVisible(true);
      if (c.state === 'closed') {
        const wait = c.retryAt !== null ? Math.max(0, Math.ceil((c.retryAt - now) / 1000)) : 0;
        this.bannerText.setText(`The relay is unreachable.\n${c.error ?? ''}\nReconnecting by itself${wait ? ` in ${wait} s` : '…'} (attempt ${c.failures + 1}).`);
      } else if (c.state === 'connecting') {
        this.bannerText.setText(c.failures ? `Reconnecting to the relay… (attempt ${c.failures + 1})` : 'Connecting to the relay…');
      } else {
        this.bannerText.setText('Connected; waiting for the picture of the village…');
      }
    }

    const last = model.console[model.console.length - 1];
    if (last && last.seq !== this.toastSeq) {
      this.toastSeq = last.seq;
      if (last.level === 'error') {
        this.toast.setText(last.text.length > 110 ? last.text.slice(0, 109) + '…' : last.text);
        this.toastUntil = now + TOAST_MS;
      }
    }
    this.toast.setVisible(now < this.toastUntil);
    this.paint();
  }

  /** Paints the bar and its lines onto the backdrop, if they changed since last painted. */
  private paint(): void {
    const texts = [this.status, this.attacks, this.laws, this.warning];
    const key = texts.map((t) => `${t.text}|${t.style.color}|${t.style.backgroundColor}|${t.style.fontStyle}`).join('|');
    if (key === this.painted) return;
    this.painted = key;
    // The click target follows the switch's size (a Zone resizes its hit area with it).
    if (this.attacksZone.width !== this.attacks.width || this.attacksZone.height !== this.attacks.height) this.attacksZone.setSize(this.attacks.width, this.attacks.height);
    const w = this.scale.width;
    let bottom = BAR_HEIGHT;
    for (const t of texts) {
      const r = textRect(t);
      if (r) bottom = Math.max(bottom, Math.ceil(r.y + r.h));
    }
    this.backdrop.layer(
      'hud',
      { x: 0, y: 0, w, h: bottom },
      (g) => {
        g.fillStyle = 'rgba(17,26,20,0.85)';
        g.fillRect(0, 0, w, BAR_HEIGHT);
        for (const t of texts) paintText(g, t);
      },
      1,
    );
  }
}

export function statusLine(model: VillageModel): string {
  const leader = model.leader();
  const total = model.peers.size;
  const k = model.counters;
  return [
    `Leader ${leader ? leader.name : 'none'}`,
    `term ${model.term()}`,
    `commit ${model.commitIndex()}`,
    `live ${model.liveCount()}/${total}`,
    `elections ${k.elections}`,
    `messages ${k.messages}`,
    `dropped events ${k.droppedEvents}`,
    model.profile ? `profile ${model.profile}` : '',
  ]
    .filter(Boolean)
    .join('  ·  ');
}
