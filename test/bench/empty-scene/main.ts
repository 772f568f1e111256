// The bench's baseline for W4 (test/bench/w4.ts): the village page's frame and style with a
// Phaser game of the same config (game/src/game/main.ts) whose only scene draws nothing. Built by
// the bench into its own folder; it is not part of the game's build.
import Phaser from 'phaser';
import '../../../game/src/page/style.css';
import { gameConfig } from '../../../game/src/game/main.ts';

class Empty extends Phaser.Scene {
  constructor() {
    super('Empty');
  }
}

const parent = document.getElementById('village');
if (!parent) throw new Error('index.html has no #village');
new Phaser.Game({ ...gameConfig(parent), scene: [new Empty()] });
