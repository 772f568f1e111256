// First scene: nothing to load from the network, so it only hands over to the Preloader.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';

export class Boot extends Phaser.Scene {
  constructor(readonly ctx: VillageContext) {
    super('Boot');
  }

  create(): void {
    this.scene.start('Preloader');
  }
}
