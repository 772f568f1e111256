// The help overlay (the ? key): every key and click the village understands.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';
import { CONSOLE_EXAMPLES, HELP_BOX, HELP_LINES } from '../helpText.ts';

export class Help extends Phaser.Scene {
  constructor(readonly ctx: VillageContext) {
    super('Help');
  }

  create(): void {
    const w = this.scale.width;
    const h = this.scale.height;
    const g = this.add.graphics();
    g.fillStyle(0x000000, 0.6);
    g.fillRect(0, 0, w, h);
    const bw = HELP_BOX.width;
    const bh = HELP_BOX.height;
    const x = (w - bw) / 2;
    const y = (h - bh) / 2;
    g.fillStyle(0xf3e9cf);
    g.fillRoundedRect(x, y, bw, bh, 12);
    g.lineStyle(4, 0x8a6a3c);
    g.strokeRoundedRect(x, y, bw, bh, 12);
    const font = { fontFamily: 'Verdana, sans-serif', color: '#2a1d0c' };
    this.add.text(x + 28, y + 20, 'Raft Village — help', { ...font, fontSize: '22px', fontStyle: 'bold' });
    this.add.text(x + 28, y + 56, 'Each villager is a real Raft peer process. Everything drawn comes from its events.', {
      ...font,
      fontSize: '13px',
    });
    let row = y + HELP_BOX.top;
    for (const [key, what] of HELP_LINES) {
      this.add.text(x + 28, row, key, { ...font, fontSize: '14px', fontStyle: 'bold' });
      this.add.text(x + 270, row, what, { ...font, fontSize: '14px' });
      row += HELP_BOX.keyRow;
    }
    row += HELP_BOX.gap;
    this.add.text(x + 28, row, 'Console (right of the village):', { ...font, fontSize: '14px', fontStyle: 'bold' });
    row += HELP_BOX.keyRow;
    for (const line of CONSOLE_EXAMPLES) {
      this.add.text(x + 40, row, line, { ...font, fontFamily: 'Menlo, Consolas, monospace', fontSize: '13px' });
      row += HELP_BOX.consoleRow;
    }
    this.add.text(x + bw - 28, y + bh - 18, 'press ? or Esc (or click) to close', { ...font, fontSize: '12px', color: '#6b5a3c' }).setOrigin(1, 1);
    // A click anywhere closes the help, and this zone keeps it from reaching the village below.
    this.add
      .zone(0, 0, w, h)
      .setOrigin(0)
      .setInteractive()
      .on('pointerdown', () => this.ctx.ui.toggleHelp(false));
  }
}
