// The help overlay's text: every line fits in its box above the footer, and it names every key
// the page answers to.
import { describe, expect, it } from 'vitest';
import { CONSOLE_EXAMPLES, HELP_BOX, HELP_LINES, helpContentBottom } from '../../game/src/game/helpText.ts';

describe('the help overlay', () => {
  it('ends its last console line above the footer line, inside the box', () => {
    expect(helpContentBottom()).toBeLessThanOrEqual(HELP_BOX.height - HELP_BOX.footer);
  });

  it('lists the village clock in the keys and in the console examples', () => {
    const keys = HELP_LINES.map(([k]) => k).join('\n');
    for (const k of ['space', '[  /  ]', '. (while paused)', 's', '?', 'l', 'h']) expect(keys).toContain(k);
    expect(CONSOLE_EXAMPLES.join('\n')).toMatch(/pause\s+resume\s+step\s+speed 0\.25/);
  });
});
