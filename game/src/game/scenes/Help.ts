// The help overlay (the ? key): every key and click the village understands.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';

export const HELP_LINES: [string, string][] = [
  ['click a villager', 'kill its peer process (a real SIGKILL)'],
  ['click a gravestone', 'revive the peer from its durable state'],
  ['shift-click / right-click', 'villager menu: kill or revive, isolate, heal, force election, inspect'],
  ['click a letter in flight', 'read it: its RPC\'s term, indexes and entries, and where it is'],
  ['click "Attacks" (top right)', 'same as s'],
  ['s', 'stop / start the monster\'s attacks'],
  ['?', 'show / hide this help'],
  ['h', 'heal every partition'],
  ['l', 'lessons: guided scenarios on this cluster, citing the Raft paper'],
  ['space (or Pause under the village)', 'pause / resume the whole village: timers and letters stop'],
  ['[  /  ]', 'slower / faster: 0.05x to 1x of the profile\'s pace'],
  ['. (while paused)', 'step: deliver the next letter or fire the next timer'],
  ['` (backquote)', 'jump to the console'],
  ['Esc', 'close this help, the menu, the inspector or a letter; in the console, leave it'],
  ['console ↑ / ↓', 'previous / next command'],
  ['Dismiss (broken law panel)', 'close it; the next broken law shows, if any'],
  ['timeline (under the village)', 'drag back to a moment (view only); ▶ plays on; Live returns'],
  ['npm run replay -- FILE', 'a recorded run (logs/village/) in this page, no cluster'],
];

export const CONSOLE_EXAMPLES = [
  'x add 100     set y 5     get x     del y     cas x 100 7',
  "['x','add','100']   (the original client's form)",
  'kill peer2   revive peer2   isolate peer3   heal   campaign peer1',
  'join peer6   leave peer2   (membership: names from raft_peer.ini)',
  'attacks off | on     status     help     clear (empties this panel)',
  'pause   resume   step   speed 0.25   (the village clock)',
];

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
    const bw = 760;
    const bh = 732;
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
    let row = y + 92;
    for (const [key, what] of HELP_LINES) {
      this.add.text(x + 28, row, key, { ...font, fontSize: '14px', fontStyle: 'bold' });
      this.add.text(x + 270, row, what, { ...font, fontSize: '14px' });
      row += 26;
    }
    row += 8;
    this.add.text(x + 28, row, 'Console (right of the village):', { ...font, fontSize: '14px', fontStyle: 'bold' });
    row += 24;
    for (const line of CONSOLE_EXAMPLES) {
      this.add.text(x + 40, row, line, { ...font, fontFamily: 'Menlo, Consolas, monospace', fontSize: '13px' });
      row += 20;
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
