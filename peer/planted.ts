// Planted bugs in the real peer, for testing the safety monitor: RAFT_PLANT_BUG=NAME picks one
// of the core's registry (PLANTED_BUGS in raft/types.ts). Off by default; an unknown name is a
// startup error. `npm run chaos -- --plant-bug NAME` runs a fault schedule that exposes it.
import { PLANTED_BUGS, type PersistedState, type PlantedBug } from './raft/types.ts';

export const PLANT_BUG_ENV = 'RAFT_PLANT_BUG';

/** The bug named in the environment, undefined when none, or an error message for an unknown name. */
export function plantedBugFromEnv(env: NodeJS.ProcessEnv = process.env): PlantedBug | undefined | { error: string } {
  const v = env[PLANT_BUG_ENV];
  if (v === undefined || v === '') return undefined;
  const bug = PLANTED_BUGS.find((b) => b === v);
  if (!bug) return { error: `${PLANT_BUG_ENV}=${v} is not a planted bug; known: ${PLANTED_BUGS.join(', ')}` };
  return bug;
}

/** What the shell recovers from disk, with the planted bug applied ('forget_vote_on_restart' drops the vote). */
export function plantRecovered(state: PersistedState, bug: PlantedBug | undefined): PersistedState {
  if (bug !== 'forget_vote_on_restart' || state.hardState.vote === null) return state;
  return { ...state, hardState: { ...state.hardState, vote: null } };
}
