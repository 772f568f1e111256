// Asking a cluster for a membership change (`join peer6`, `leave peer2`): finds the leader through
// /admin (following not_leader hints, trying the peers in turn while there is none), sends it the
// membership request and resolves with its outcome. The launcher, the relay's console, the chaos
// tool and the tests all use this one path.
import type { Config } from './config.ts';
import { adminRequest } from './admin-client.ts';
import type { MembershipOp, MembershipResult } from './membership.ts';

export interface ChangeOptions {
  /** Peers to ask first (say, the configuration's members); every peer of the ini is tried after them. */
  ask?: readonly string[];
  /** How long the whole change may take (default 30 s): finding a leader, and the change itself. */
  timeoutMs?: number;
}

/**
 * Runs one membership change. A name not in the ini is refused here at once (unknown_peer);
 * without a leader until the time runs out: not_leader. After a lost leadership during the
 * change, it asks again, and a `join` that then finds the peer a voter (or a `leave` that finds
 * it gone) counts as done: the first attempt did it.
 */
export async function changeMembership(config: Config, op: MembershipOp, peer: string, opts: ChangeOptions = {}): Promise<MembershipResult> {
  const names = config.peers.map((p) => p.name);
  if (!names.includes(peer)) {
    return { ok: false, op, peer, error: 'unknown_peer', leader: null, message: `${peer} is not in ${config.file} [peers]; names there: ${names.join(', ')}` };
  }
  const end = Date.now() + (opts.timeoutMs ?? 30_000);
  const order = [...new Set([...(opts.ask ?? []).filter((n) => names.includes(n)), ...names])];
  let target = order[0]!;
  let turn = 0;
  let retried = false;
  let last: MembershipResult | null = null;
  let lastError = '';
  while (Date.now() < end) {
    const left = end - Date.now();
    try {
      const addr = config.peers.find((p) => p.name === target)!;
      const r = await adminRequest(addr, config.secret, { type: 'membership', op, peer, timeoutMs: Math.max(1, left - 500) }, left + 1000);
      if (r.type === 'error') return { ok: false, op, peer, error: 'refused', leader: null, message: `${target} refused the request: ${r.message}` };
      if (r.type !== 'membership') throw new Error(`${target} answered ${r.type}`);
      const { type: _t, id: _i, ...result } = r;
      if (result.ok) return result;
      if (retried && ((op === 'join' && result.error === 'already_member') || (op === 'leave' && result.error === 'not_member'))) {
        return { ok: true, op, peer, config: result.config ?? { voters: [], learners: [] }, index: 0 };
      }
      if (result.error !== 'not_leader') return result;
      last = result;
      // Asked of a former leader mid-change: it may have taken effect; the next answer tells.
      if (/may still take effect/.test(result.message)) retried = true;
      if (result.leader && result.leader !== target && names.includes(result.leader)) {
        target = result.leader;
        continue;
      }
    } catch (e) {
      lastError = `${target}: ${(e as Error).message}`;
    }
    target = order[++turn % order.length]!;
    await new Promise((r) => setTimeout(r, turn % order.length === 0 ? 200 : 20));
  }
  if (last) return { ...last, message: `no leader took ${op} ${peer} in time (${last.message})` };
  return { ok: false, op, peer, error: 'not_leader', leader: null, message: `no leader took ${op} ${peer} in time${lastError ? ` (last: ${lastError})` : ''}` };
}
