// The Phaser game: size, renderer, and the scenes in the order they start.
import Phaser from 'phaser';
import type { VillageContext } from './context.ts';
import { HEIGHT, WIDTH } from './layout.ts';
import { COLOURS } from './palette.ts';
import { Help } from './scenes/Help.ts';
import { Hud } from './scenes/Hud.ts';
import { Preloader } from './scenes/Preloader.ts';
import { Village } from './scenes/Village.ts';

export function createGame(parent: HTMLElement, ctx: VillageContext): Phaser.Game {
  return new Phaser.Game({
    ...gameConfig(parent),
    scene: [new Preloader(ctx), new Village(ctx), new Hud(ctx), new Help(ctx)],
  });
}

/** Everything of the game's config but its scenes (the bench's empty scene runs with the same). */
export function gameConfig(parent: HTMLElement): Phaser.Types.Core.GameConfig {
  return {
    type: Phaser.AUTO,
    parent,
    width: WIDTH,
    height: HEIGHT,
    backgroundColor: COLOURS.background,
    // The canvas shows the backdrop behind it (views/Backdrop.ts) where nothing is drawn.
    transparent: true,
    // No multisampling: where WebGL runs in software it made every frame cost several times
    // more, and what Phaser draws are images with soft edges of their own; the rings and lines
    // that needed it are painted with the 2D API onto the backdrop.
    antialiasGL: false,
    banner: false,
    scale: { mode: Phaser.Scale.FIT, autoCenter: Phaser.Scale.CENTER_BOTH },
    // Keys are read from the page (keys.ts) so that typing in the console never reaches the game.
    input: { keyboard: false },
    disableContextMenu: true,
  };
}
