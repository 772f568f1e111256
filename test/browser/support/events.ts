// Every peer event the relay passes on to browsers, as a watching page gets them: a test's own
// /village connection (watch-only, no token) that keeps the events of each batch in order.
import { WebSocket } from 'ws';
import type { PeerEvent } from '../../../shared/events.ts';
import type { RelayToBrowser } from '../../../shared/village.ts';

export interface EventWatch {
  readonly events: PeerEvent[];
  close(): void;
}

export function watchEvents(relayPort: number): EventWatch {
  const events: PeerEvent[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${relayPort}/village`);
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as RelayToBrowser;
    if (m.type === 'batch') for (const x of m.deltas) if (x.type === 'event') events.push(x.event);
  });
  return { events, close: () => ws.terminate() };
}
