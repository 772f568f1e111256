// The letter panel's Drop: offered only while the village clock is paused and only for a letter
// its receiver holds (the relay's clock view lists the held rids). The relay tells the receiver
// to throw it away unread; the receiver reports the drop, so the letter is drawn as dropped and
// the console says who dropped it. A refusal (the letter landed meanwhile, the village resumed)
// is an error line in this page's console.
import type { Flight, VillageModel } from '../model.ts';
import type { VillageTime } from '../villageTime.ts';
import type { Command, Reply } from './connection.ts';
import type { LetterAction } from './letterPanel.ts';

export function dropAction(time: VillageTime, model: VillageModel, send: (cmd: Command) => Promise<Reply>): LetterAction {
  return {
    label: 'Drop',
    applies: (f: Flight) => {
      const v = time.view;
      return v !== null && v.paused && f.landedAt === null && f.vanishedAt === null && (v.held ?? []).includes(f.rid);
    },
    run: async (f: Flight) => {
      const r = await send({ type: 'clock', action: 'drop', rid: f.rid });
      if (!r.ok) model.addConsoleLine('error', `Drop ${f.rid}: ${r.text || 'failed'}`, Date.now());
      return r;
    },
  };
}
