// The leader's replication state for one follower (etcd: raft/tracker/progress.go).
//
//   probe      the leader does not know where the follower's log ends: it sends one
//              AppendEntries at a time and waits for the answer (or the next heartbeat)
//              before sending another, moving nextIndex back on each rejection (§5.3).
//   replicate  the follower accepted an append: the leader streams entries optimistically,
//              advancing nextIndex as it sends, with at most maxInflightAppends unacknowledged
//              appends in flight (pipelining); a rejection drops it back to probe.
//   snapshot   the follower needs entries the leader has compacted away: the leader sends its
//              snapshot (§7), one chunk at a time from the offset the follower says it holds,
//              and goes back to probe once the follower has installed it.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated on the follower (Figure 2, matchIndex). */
  match = 0;
  /** Index of the next entry to send (Figure 2, nextIndex). */
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append is outstanding; wait for its answer or the next heartbeat. */
  paused = false;
  /** Replicate state: last index carried by each unacknowledged append, oldest first. */
  inflights: number[] = [];
  /** Heard from this follower during the current CheckQuorum interval (dissertation §6.2). */
  recentActive = false;
  /** Highest ReadIndex round (readSeq) the follower has acknowledged in this term (§6.4). */
  readAck = 0;
  /** Highest commit index this follower has been told about. */
  sentCommit = 0;
  /** Heartbeats in a row with appends in flight but no progress: a lost append is suspected. */
  stalledBeats = 0;
  /** match at the previous heartbeat, to notice stalls. */
  matchAtBeat = 0;
  /** Snapshot state: the last index of the snapshot being sent, and how much of it the follower holds. */
  snapshotIndex = 0;
  snapshotOffset = 0;

  constructor(next: number) {
    this.next = next;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.paused = false;
    this.inflights.length = 0;
    this.next = this.match + 1;
    this.stalledBeats = 0;
    this.matchAtBeat = this.match;
  }

  /** The follower needs the snapshot ending at `index`: send it from the start. */
  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.paused = false;
    this.inflights.length = 0;
    this.snapshotIndex = index;
    this.snapshotOffset = 0;
    this.stalledBeats = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.paused = false;
    this.inflights.length = 0;
    this.next = this.match + 1;
    this.stalledBeats = 0;
    this.matchAtBeat = this.match;
  }

  /** A successful reply acknowledged everything up to `index`. Returns true if match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
    }
    if (this.next < index + 1) this.next = index + 1;
    // Acknowledged appends leave the window.
    let drop = 0;
    while (drop < this.inflights.length && this.inflights[drop]! <= index) drop++;
    if (drop > 0) this.inflights.splice(0, drop);
    return updated;
  }

  /**
   * A rejection of the append whose prevLogIndex was `rejected`; `hintNext` is where the
   * follower's hints say to retry (§5.3, fast backtracking). Returns false for a stale rejection
   * (one that answers an append sent before the current position was chosen).
   * `followerLastIndex` is where the follower said its log ends, when it said so.
   */
  maybeDecrTo(rejected: number, hintNext: number, followerLastIndex?: number): boolean {
    // A follower never loses what it acknowledged (§5.4: persistent state), unless its disk did:
    // a peer restarted with an empty or cut log says its log now ends below `match`. That is
    // believed, or the leader would retry at match + 1 for ever.
    const lostState = followerLastIndex !== undefined && followerLastIndex < this.match;
    if (this.state === 'replicate') {
      if (rejected < this.match || (rejected === this.match && !lostState)) return false;
      this.becomeProbe();
    } else if (rejected !== this.next - 1) {
      return false;
    }
    if (lostState) {
      this.match = followerLastIndex;
      this.matchAtBeat = this.match;
    }
    this.next = Math.max(this.match + 1, Math.min(hintNext, rejected));
    this.paused = false;
    return true;
  }

  /** An append carrying entries up to `lastIndex` was sent. */
  sent(lastIndex: number): void {
    if (this.state === 'replicate') {
      this.inflights.push(lastIndex);
      this.next = lastIndex + 1;
    } else {
      this.paused = true;
    }
  }

  inflightFull(max: number): boolean {
    return this.inflights.length >= max;
  }
}
