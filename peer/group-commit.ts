// The shell's group commit (peer/peer.ts): Readies taken while a save was in flight go to disk
// in one save.
import type { Entry, HardState, Ready } from './raft/types.ts';

/** Merges the hard state and entries of several Readies into one save (group commit). */
export function mergeForSave(batch: readonly Ready[]): { hardState: HardState | null; entries: Entry[] } {
  let hardState: HardState | null = null;
  let entries: Entry[] = [];
  for (const rd of batch) {
    if (rd.hardState) hardState = rd.hardState;
    if (rd.entries.length === 0) continue;
    const first = rd.entries[0]!.index;
    if (entries.length > 0 && first <= entries[entries.length - 1]!.index) {
      // A later Ready rewrote part of what the earlier one appended: keep only what precedes it.
      entries = entries.filter((e) => e.index < first);
    }
    entries = entries.concat(rd.entries);
  }
  return { hardState, entries };
}
