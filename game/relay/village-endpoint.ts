// /village: browsers. Each one joins the fan-out (fanout.ts: a snapshot, then batches) and may
// send control messages, answered by a `reply` with the same id. Control needs the page's token
// and origin (checked at the upgrade, passed in as canControl) and is rate limited per browser
// by a token bucket, so a runaway page cannot flood the cluster with commands.
import { WebSocket, type RawData } from 'ws';
import type { BrowserToRelay, RelayToBrowser } from '../../shared/village.ts';
import { rawText } from '../../shared/ws.ts';
import type { Complaints } from './complaints.ts';
import type { Reply } from './control.ts';
import type { Fanout, Sink } from './fanout.ts';
import { browserFrameId, parseBrowserMessage, parseJson } from './validate.ts';

export interface VillageEndpointDeps {
  fanout: Fanout;
  complaints: Complaints;
  /** Runs one control message (Control.execute). */
  execute(msg: BrowserToRelay): Promise<Reply>;
  /** Whether any browser is watching (the Picture keeps animation events only then). */
  watching(on: boolean): void;
  /** Control messages per second per browser before they are refused. */
  commandsPerSecond: number;
  now(): number;
}

interface Browser {
  ws: WebSocket;
  control: boolean;
  bucket: number;
  bucketAt: number;
}

export class VillageEndpoint {
  private readonly browsers = new Set<WebSocket>();

  constructor(private readonly d: VillageEndpointDeps) {}

  get connections(): number {
    return this.browsers.size;
  }

  accept(ws: WebSocket, canControl: boolean): void {
    const b: Browser = { ws, control: canControl, bucket: this.d.commandsPerSecond, bucketAt: this.d.now() };
    const sink = socketSink(ws);
    this.browsers.add(ws);
    this.d.fanout.add(sink);
    this.d.watching(true);
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onFrame(b, data, isBinary));
    ws.on('close', () => {
      this.browsers.delete(ws);
      this.d.fanout.remove(sink);
      this.d.watching(this.browsers.size > 0);
    });
  }

  private async onFrame(b: Browser, data: RawData, isBinary: boolean): Promise<void> {
    const reply = (id: string, ok: boolean, text: string, value?: unknown) => {
      const m: RelayToBrowser = value === undefined ? { type: 'reply', id, ok, text } : { type: 'reply', id, ok, text, value };
      if (b.ws.readyState === WebSocket.OPEN) b.ws.send(JSON.stringify(m));
    };
    const { complaints } = this.d;
    if (isBinary) {
      complaints.rejectedFrames++;
      return reply('', false, 'binary frames are not understood; send JSON text');
    }
    const json = parseJson(rawText(data));
    if (!json.ok) {
      complaints.rejectedFrames++;
      return reply('', false, `not understood: ${json.message}`);
    }
    const id = browserFrameId(json.value);
    const parsed = parseBrowserMessage(json.value);
    if (!parsed.ok) {
      complaints.rejectedFrames++;
      return reply(id, false, `not understood: ${parsed.message}`);
    }
    // Looking inside a peer changes nothing: a watch-only page may do it (rate limited all the same).
    if (!b.control && parsed.value.type !== 'inspect') {
      return reply(id, false, 'this connection may watch but not control the village: control needs the page served by the relay (its token and origin)');
    }
    const rate = this.d.commandsPerSecond;
    const t = this.d.now();
    b.bucket = Math.min(rate, b.bucket + ((t - b.bucketAt) / 1000) * rate);
    b.bucketAt = t;
    if (b.bucket < 1) return reply(id, false, 'too many commands; slow down');
    b.bucket -= 1;
    let r: Reply;
    try {
      r = await this.d.execute(parsed.value);
    } catch (e) {
      r = { ok: false, text: `failed: ${(e as Error).message}` };
    }
    reply(id, r.ok, r.text, r.value);
  }
}

/** A browser's socket as the fan-out sees it. */
function socketSink(ws: WebSocket): Sink {
  return {
    send: (frame) => ws.send(frame),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
  };
}
