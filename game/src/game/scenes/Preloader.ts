// Draws every picture the village uses with Graphics and bakes it into a texture, so the game
// needs no image files. Then starts the village and its overlay.
import Phaser from 'phaser';
import type { VillageContext } from '../context.ts';

const SKIN = 0xf2c79b;
const HAIR = 0x5a3b1e;
const INK = 0x1b1b1b;

export class Preloader extends Phaser.Scene {
  constructor(readonly ctx: VillageContext) {
    super('Preloader');
  }

  create(): void {
    this.bake('shirt', 36, 30, (g) => {
      // White so that a tint gives the term's colour; the belt stays darker.
      g.fillStyle(0xffffff);
      g.fillRoundedRect(5, 2, 26, 26, 8);
      g.fillRoundedRect(0, 6, 7, 17, 3);
      g.fillRoundedRect(29, 6, 7, 17, 3);
      g.fillStyle(0xb0b0b0);
      g.fillRect(5, 21, 26, 3);
      g.fillStyle(SKIN);
      g.fillCircle(3.5, 24, 3);
      g.fillCircle(32.5, 24, 3);
    });
    this.bake('legs', 24, 14, (g) => {
      g.fillStyle(0x46392b);
      g.fillRect(4, 0, 7, 10);
      g.fillRect(13, 0, 7, 10);
      g.fillStyle(INK);
      g.fillRoundedRect(2, 9, 9, 5, 2);
      g.fillRoundedRect(13, 9, 9, 5, 2);
    });
    this.bake('head', 26, 26, (g) => {
      g.fillStyle(SKIN);
      g.fillCircle(13, 14, 11);
      g.fillStyle(HAIR);
      g.fillEllipse(13, 6, 22, 9);
      g.fillStyle(INK);
      g.fillCircle(9, 15, 1.7);
      g.fillCircle(17, 15, 1.7);
      g.lineStyle(1.5, 0x8a4b2b);
      g.lineBetween(10, 20, 16, 20);
    });
    this.bake('crown', 30, 20, (g) => {
      const pts = [
        { x: 2, y: 18 },
        { x: 2, y: 5 },
        { x: 9, y: 11 },
        { x: 15, y: 2 },
        { x: 21, y: 11 },
        { x: 28, y: 5 },
        { x: 28, y: 18 },
      ].map((p) => new Phaser.Math.Vector2(p.x, p.y));
      g.fillStyle(0xffd700);
      g.fillPoints(pts, true);
      g.lineStyle(1.5, 0xa87900);
      g.strokePoints(pts, true);
      g.fillStyle(0xd7263d);
      g.fillCircle(15, 13, 2.5);
      g.fillStyle(0x2e86de);
      g.fillCircle(8, 14, 1.8);
      g.fillCircle(22, 14, 1.8);
    });
    this.bake('hand', 14, 28, (g) => {
      // A raised arm: "vote for me!"
      g.fillStyle(0xffffff);
      g.fillRoundedRect(4, 9, 6, 19, 3);
      g.fillStyle(SKIN);
      g.fillCircle(7, 6, 5);
      g.fillRect(3, 1, 2, 5);
      g.fillRect(9, 1, 2, 5);
    });
    this.bake('grave', 42, 50, (g) => {
      g.fillStyle(0x5d7a3a);
      g.fillEllipse(21, 46, 42, 9);
      g.fillStyle(0xa3aaa8);
      g.fillRoundedRect(5, 4, 32, 42, { tl: 16, tr: 16, bl: 2, br: 2 });
      g.lineStyle(2, 0x6f7776);
      g.strokeRoundedRect(5, 4, 32, 42, { tl: 16, tr: 16, bl: 2, br: 2 });
      g.fillStyle(0x6f7776);
      g.fillRect(19, 12, 4, 20);
      g.fillRect(13, 17, 16, 4);
    });
    this.bake('monster', 76, 68, (g) => {
      g.fillStyle(0xe8dcc0);
      g.fillTriangle(14, 20, 20, 2, 26, 18);
      g.fillTriangle(50, 18, 56, 2, 62, 20);
      g.fillStyle(0x6a2c7a);
      g.fillEllipse(38, 40, 66, 50);
      g.fillStyle(0x4e1f5a);
      g.fillEllipse(22, 64, 16, 8);
      g.fillEllipse(54, 64, 16, 8);
      g.fillStyle(0xffffff);
      g.fillCircle(27, 31, 8);
      g.fillCircle(49, 31, 8);
      g.fillStyle(0xd7263d);
      g.fillCircle(29, 32, 4);
      g.fillCircle(47, 32, 4);
      g.fillStyle(0x2a0010);
      g.fillEllipse(38, 50, 34, 14);
      g.fillStyle(0xffffff);
      for (let i = 0; i < 5; i++) g.fillTriangle(24 + i * 6, 44, 30 + i * 6, 44, 27 + i * 6, 50);
    });
    this.bake('letter', 22, 15, (g) => {
      g.fillStyle(0xffffff);
      g.fillRect(1, 1, 20, 13);
      g.lineStyle(1.5, 0x555555);
      g.strokeRect(1, 1, 20, 13);
      g.lineBetween(1, 1, 11, 8);
      g.lineBetween(11, 8, 21, 1);
    });
    // An InstallSnapshot: a book (a brown cover, the pages' edge, a bookmark), not an envelope.
    this.bake('book', 22, 18, (g) => {
      g.fillStyle(0xf3ead2);
      g.fillRect(3, 2, 18, 15);
      g.fillStyle(0x7a4a22);
      g.fillRect(1, 1, 17, 15);
      g.lineStyle(1.5, 0x3d2410);
      g.strokeRect(1, 1, 17, 15);
      g.lineBetween(4, 1, 4, 16);
      g.fillStyle(0xffd166);
      g.fillRect(8, 6, 7, 2);
      g.fillStyle(0xd7263d);
      g.fillTriangle(13, 16, 16, 16, 14.5, 18);
    });
    // A newcomer's house: walls, a red roof, a door.
    this.bake('house', 46, 42, (g) => {
      g.fillStyle(0xe9d8b4);
      g.fillRect(6, 18, 34, 23);
      g.lineStyle(1.5, 0x6b4a2b);
      g.strokeRect(6, 18, 34, 23);
      g.fillStyle(0xb5452b);
      g.fillTriangle(1, 20, 23, 2, 45, 20);
      g.lineStyle(1.5, 0x6e2614);
      g.strokeTriangle(1, 20, 23, 2, 45, 20);
      g.fillStyle(0x6b4a2b);
      g.fillRect(19, 27, 9, 14);
      g.fillStyle(0x9fd3ff);
      g.fillRect(10, 24, 6, 6);
      g.fillRect(31, 24, 6, 6);
    });
    this.bake('letter-small', 12, 9, (g) => {
      g.fillStyle(0xffffff);
      g.fillRect(0.5, 0.5, 11, 8);
      g.lineStyle(1, 0x666666);
      g.strokeRect(0.5, 0.5, 11, 8);
      g.lineBetween(0.5, 0.5, 6, 5);
      g.lineBetween(6, 5, 11.5, 0.5);
    });
    this.bake('puff', 18, 18, (g) => {
      g.fillStyle(0xffffff, 0.5);
      g.fillCircle(9, 9, 9);
      g.fillStyle(0xffffff, 0.9);
      g.fillCircle(9, 9, 5);
    });
    this.bake('nosignal', 24, 24, (g) => {
      g.fillStyle(0x222222, 0.85);
      g.fillCircle(12, 12, 12);
      g.lineStyle(2, 0xdddddd);
      g.beginPath();
      g.arc(12, 15, 8, Math.PI * 1.2, Math.PI * 1.8);
      g.strokePath();
      g.beginPath();
      g.arc(12, 15, 4, Math.PI * 1.2, Math.PI * 1.8);
      g.strokePath();
      g.fillStyle(0xdddddd);
      g.fillCircle(12, 16, 1.8);
      g.lineStyle(2.5, 0xff5252);
      g.lineBetween(5, 5, 19, 19);
    });
    this.bake('tree', 44, 60, (g) => {
      g.fillStyle(0x6b4a2b);
      g.fillRect(18, 36, 8, 22);
      g.fillStyle(0x2f6b2f);
      g.fillCircle(22, 22, 18);
      g.fillStyle(0x3c8a3c);
      g.fillCircle(15, 18, 10);
      g.fillCircle(29, 26, 10);
    });
    this.bake('well', 72, 60, (g) => {
      g.fillStyle(0x6b4a2b);
      g.fillRect(8, 6, 5, 34);
      g.fillRect(59, 6, 5, 34);
      g.fillStyle(0x9c3d2e);
      g.fillTriangle(0, 10, 36, 0, 72, 10);
      g.fillStyle(0x8d8d8d);
      g.fillEllipse(36, 44, 64, 26);
      g.fillStyle(0x2d6fa3);
      g.fillEllipse(36, 41, 48, 14);
      g.lineStyle(2, 0x6b6b6b);
      g.strokeEllipse(36, 44, 64, 26);
    });
    this.scene.start('Village');
  }

  private bake(key: string, w: number, h: number, draw: (g: Phaser.GameObjects.Graphics) => void): void {
    if (this.textures.exists(key)) return;
    const g = this.add.graphics();
    draw(g);
    g.generateTexture(key, w, h);
    g.destroy();
  }
}
