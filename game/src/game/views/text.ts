// Phaser redraws a Text's canvas on every colour change, even to the same colour; these set
// it only when it really changes, so views can call them every frame. Text that changes on
// every frame is set a few times a second (setTextAtMost).
import type Phaser from 'phaser';

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
