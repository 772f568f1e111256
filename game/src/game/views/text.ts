// Phaser redraws a Text's canvas on every colour change, even to the same colour; these set
// it only when it really changes, so views can call them every frame.
import type Phaser from 'phaser';

export function setColour(t: Phaser.GameObjects.Text, colour: string): void {
  if (t.style.color !== colour) t.setColor(colour);
}

export function setBackground(t: Phaser.GameObjects.Text, colour: string): void {
  if (t.style.backgroundColor !== colour) t.setBackgroundColor(colour);
}
