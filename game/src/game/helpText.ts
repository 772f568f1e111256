// What the help overlay (scenes/Help.ts) says, and how it is laid out: pure, so a test can check
// that everything fits in the box above its footer.

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

/** The box and its rows (canvas px): the key lines start `top` below the box's top. */
export const HELP_BOX = { width: 760, height: 732, top: 92, keyRow: 24, gap: 8, consoleRow: 20, footer: 36 } as const;

/** Where the last console line ends, from the box's top. */
export function helpContentBottom(): number {
  const b = HELP_BOX;
  return b.top + HELP_LINES.length * b.keyRow + b.gap + b.keyRow + CONSOLE_EXAMPLES.length * b.consoleRow;
}
