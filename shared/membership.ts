// Membership on the wire and on disk: a Raft configuration (who votes, who only learns) as it
// travels in AppendEntries entries, sits in the write-ahead log, and is reported in -v events, and
// the words of a membership change (`join peer6`, `leave peer2`) and its outcome. Pure: no Node
// imports, one validator for every reader (the peer's transport and storage, the relay).
//
// A configuration lists names only; which names may ever be used is raft_peer.ini's [peers].

/** Who votes and who only receives the log (the core's Config, peer/raft/types.ts). */
export interface Membership {
  voters: string[];
  learners: string[];
}

/** Most names one configuration may list (far above any village: the ini's [peers] is the real bound). */
export const MAX_MEMBERS = 64;
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** Reads a configuration from decoded JSON; a string says what is wrong with it. */
export function parseMembership(v: unknown): Membership | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'a configuration must be an object {voters, learners}';
  const o = v as Record<string, unknown>;
  const list = (key: 'voters' | 'learners'): string[] | string => {
    const l = o[key];
    if (!Array.isArray(l)) return `"${key}" must be a list of peer names`;
    if (l.length > MAX_MEMBERS) return `"${key}" lists more than ${MAX_MEMBERS} names`;
    for (const [i, n] of l.entries()) if (typeof n !== 'string' || !NAME.test(n)) return `"${key}[${i}]" must be a peer name`;
    return l as string[];
  };
  const voters = list('voters');
  if (typeof voters === 'string') return voters;
  const learners = list('learners');
  if (typeof learners === 'string') return learners;
  if (voters.length === 0) return 'a configuration needs at least one voter';
  const all = [...voters, ...learners];
  if (new Set(all).size !== all.length) return `a name appears twice in the configuration (${all.join(', ')})`;
  return { voters: voters.slice(), learners: learners.slice() };
}

export function sameMembership(a: Membership, b: Membership): boolean {
  return a.voters.join() === b.voters.join() && a.learners.join() === b.learners.join();
}

/** "voters peer1, peer2, peer3; learners peer6" (or "; no learners"). */
export function formatMembership(m: Membership): string {
  return `voters ${m.voters.join(', ')}; ${m.learners.length ? `learners ${m.learners.join(', ')}` : 'no learners'}`;
}

/** A membership change as people ask for it. Not `add`: that is the key-value command. */
export type MembershipOp = 'join' | 'leave';

/**
 * Why a change was refused (nothing was done, unless said otherwise):
 * - unknown_peer   the name is not in raft_peer.ini [peers]
 * - already_member `join` of a voter
 * - not_member     `leave` of a peer outside the configuration
 * - in_flight      another change is under way; try again when it is done
 * - not_leader     this peer does not lead (`leader` is the one it knows, if any)
 * - timeout        the change was started but did not finish in time (a joining learner that has
 *                  not caught up stays a learner; `join` again resumes it)
 * - refused        the leader's core refused it (for instance: the last voter cannot leave)
 */
export type MembershipError = 'unknown_peer' | 'already_member' | 'not_member' | 'in_flight' | 'not_leader' | 'timeout' | 'refused';

/**
 * The outcome: on success the configuration after the change and the index of the entry that
 * completed it (0 when a retry found the change already done); on failure the error, a sentence
 * for people, the leader the answering peer knows of, and the leader's configuration when it is one.
 */
export type MembershipResult =
  | { ok: true; op: MembershipOp; peer: string; config: Membership; index: number }
  | { ok: false; op: MembershipOp; peer: string; error: MembershipError; message: string; leader: string | null; config?: Membership };
