// Phaser redraws a Text's canvas on every colour change, even to the same colour; these set
// it only when it really changes, so views can call them every frame. Text that changes on
// every frame is set a few times a second (setTextAtMost). Texts painted onto the backdrop
// (canvasText) are Phaser Texts used only for their canvas.
import Phaser from 'phaser';

export function setColour(t: Phaser.GameObjects.Text, colour: string): void {
  if (t.style.color !== colour) t.setColor(colour);
}

export function setBackground(t: Phaser.GameObjects.Text, colour: string): void {
  if (t.style.backgroundColor !== colour) t.setBackgroundColor(colour);
}

const lastSet = new WeakMap<Phaser.GameObjects.Text, number>();

/**
 * Sets a text that may change on every frame (counters, "log 812 · commit 811" under load) at
 * most once per `ms`: each change redraws the Text's canvas and uploads it as a texture. A change
 * after a quiet spell shows at once; the latest value always shows within `ms`. Counted in wall-clock
 * time, not the model's: a rewound village standing still at one moment must still show its texts.
 */
export function setTextAtMost(t: Phaser.GameObjects.Text, text: string, ms = 250): void {
  if (t.text === text) return;
  const now = performance.now();
  const last = lastSet.get(t);
  if (last !== undefined && now - last < ms && now >= last) return;
  lastSet.set(t, now);
  t.setText(text);
}

/**
 * A Text used only to lay out and render its canvas, which a view paints onto the backdrop with
 * the 2D API (`paintText`): it is on no display list, so Phaser never draws it, and it is never
 * uploaded as a WebGL texture.
 */
export function canvasText(scene: Phaser.Scene, x: number, y: number, text: string, style: Phaser.Types.GameObjects.Text.TextStyle): Phaser.GameObjects.Text {
  const t = new Phaser.GameObjects.Text(scene, x, y, '', style);
  // Without a renderer, Text.updateText renders its canvas and stops there.
  (t as unknown as { renderer: unknown }).renderer = null;
  return t.setText(text);
}

/** Where a Text's canvas goes, in canvas pixels (its origin applied), or null when it is empty. */
export function textRect(t: Phaser.GameObjects.Text): { x: number; y: number; w: number; h: number } | null {
  if (t.text === '') return null;
  return { x: t.x - t.originX * t.width, y: t.y - t.originY * t.height, w: t.width, h: t.height };
}

/** Paints a Text's canvas where Phaser would have drawn it (alpha applied). */
export function paintText(g: CanvasRenderingContext2D, t: Phaser.GameObjects.Text): void {
  const r = textRect(t);
  if (!r || t.alpha <= 0) return;
  g.globalAlpha = t.alpha;
  g.drawImage(t.canvas, r.x, r.y, r.w, r.h);
  g.globalAlpha = 1;
}
