// The game's keys, read from the page. Keys typed into a text field (the console) are never
// taken as game keys.
export interface KeyActions {
  toggleAttacks(): void;
  toggleHelp(): void;
  closeOverlays(): void;
  heal(): void;
  focusConsole(): void;
  /** The Lessons panel (game/src/page/lessons/). */
  lessons?(): void;
  /** The village clock (page/clockBar.ts): space, [, ], . */
  clock?: { toggle(): void; slower(): void; faster(): void; step(): void };
}

export function isTypingTarget(t: EventTarget | null): boolean {
  if (!t || !(t instanceof HTMLElement)) return false;
  const tag = t.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable;
}

export function installKeys(target: Window, keys: KeyActions): void {
  target.addEventListener('keydown', (e) => {
    if (isTypingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    switch (e.key) {
      case 's':
      case 'S':
        keys.toggleAttacks();
        break;
      case '?':
        keys.toggleHelp();
        break;
      case 'Escape':
        keys.closeOverlays();
        break;
      case 'h':
      case 'H':
        keys.heal();
        break;
      case '`':
        keys.focusConsole();
        break;
      case 'l':
      case 'L':
        if (!keys.lessons) return;
        keys.lessons();
        break;
      case ' ':
        if (!keys.clock) return;
        keys.clock.toggle();
        break;
      case '[':
        if (!keys.clock) return;
        keys.clock.slower();
        break;
      case ']':
        if (!keys.clock) return;
        keys.clock.faster();
        break;
      case '.':
        if (!keys.clock) return;
        keys.clock.step();
        break;
      default:
        return;
    }
    e.preventDefault();
  });
}

/**
 * A click (or touch) on the village takes the focus from the console, so the game's keys work
 * right after a command was typed. Phaser's canvas takes no focus of its own, and its input
 * handling keeps the browser from moving the focus, so the text field would keep it.
 */
export function takeFocusOnPointer(village: HTMLElement, doc: Document): void {
  village.addEventListener(
    'pointerdown',
    () => {
      const active = doc.activeElement;
      if (active instanceof HTMLElement && isTypingTarget(active)) active.blur();
    },
    { capture: true },
  );
}
