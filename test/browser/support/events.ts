// Every peer event the relay passes on to browsers, as a watching page gets them: a test's own
// /village connection (watch-only, no token) that keeps the events of each batch in order.
import { WebSocket } from 'ws';
import type { PeerEvent } from '../../../shared/events.ts';
import type { RelayToBrowser } from '../../../shared/village.ts';

export interface EventWatch {
  readonly events: PeerEvent[];
  /** rid -> how many other RPCs its letter stands for, for the sampled letters that stand for some (letter-sampler.ts). */
  readonly more: Map<string, number>;
  close(): void;
}

export function watchEvents(relayPort: number): EventWatch {
  const events: PeerEvent[] = [];
  const more = new Map<string, number>();
  const ws = new WebSocket(`ws://127.0.0.1:${relayPort}/village`);
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as RelayToBrowser;
    if (m.type !== 'batch') return;
    for (const x of m.deltas) {
      if (x.type !== 'event') continue;
      events.push(x.event);
      if (x.more && 'rid' in x.event) more.set(x.event.rid, x.more);
    }
  });
  return { events, more, close: () => ws.terminate() };
}
