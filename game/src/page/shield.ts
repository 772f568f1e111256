// Panels drawn over the village (the menu, the inspector, a letter, a lesson, the clock bar...)
// keep their presses to themselves. Phaser listens on the window as well as on its canvas, and
// takes a press whose target is not the canvas as a press at that spot of the game: a click on a
// panel's button would also land on the villager drawn underneath it, and kill it.
const PRESSES = ['mousedown', 'pointerdown', 'touchstart'] as const;

export function shieldFromGame(...els: (HTMLElement | null)[]): void {
  for (const el of els) {
    if (!el) continue;
    for (const type of PRESSES) el.addEventListener(type, (e) => e.stopPropagation());
  }
}
