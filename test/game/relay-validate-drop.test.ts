// The page's Drop (a `clock` message with action `drop`): what the relay accepts and refuses.
import { describe, expect, it } from 'vitest';
import { parseBrowserMessage } from '../../game/relay/validate.ts';

describe('a Drop from a page', () => {
  it('is read with its rid and id', () => {
    expect(parseBrowserMessage({ type: 'clock', action: 'drop', rid: 'peer1:17', id: 'r4' })).toEqual({ ok: true, value: { type: 'clock', action: 'drop', rid: 'peer1:17', id: 'r4' } });
  });

  it('is refused without a rid, with an empty or too long one, or one that is not a string, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'clock', action: 'drop', id: 'r1' }, /^rid: expected a string/],
      [{ type: 'clock', action: 'drop', rid: 17, id: 'r1' }, /^rid: expected a string/],
      [{ type: 'clock', action: 'drop', rid: '', id: 'r1' }, /^rid: expected the rid of a held letter/],
      [{ type: 'clock', action: 'drop', rid: 'p'.repeat(81), id: 'r1' }, /^rid: longer than 80/],
      [{ type: 'clock', action: 'dropp', rid: 'peer1:1', id: 'r1' }, /action/],
    ];
    for (const [input, why] of bad) {
      const r = parseBrowserMessage(input);
      expect(r.ok, JSON.stringify(input)).toBe(false);
      if (!r.ok) expect(r.message).toMatch(why);
    }
  });
});
