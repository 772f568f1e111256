// The delaying hop: a TCP relay that runs in the router namespace of test/support/netns.ts and
// holds every chunk it relays for a delay drawn per chunk, so that peers on their own hosts see
// a slow, jittery network without netem (which these kernels lack).
//
//   node --import tsx test/support/delay-hop.ts LISTEN_ADDR PORT=TARGET:PORT ...
//
// Listens on LISTEN_ADDR:PORT for each mapping and relays every connection to TARGET:PORT (the
// peers' own dnat rules send their peer-to-peer connections here). Reads commands on stdin:
//   delay MEAN JITTER   every chunk waits MEAN ± JITTER ms (uniform) from now on; answers "ok"
//   stats               answers "stats {chunks, minMs, maxMs, meanMs, connections, overtook}" and resets them
// Prints "ready" once every port listens. Within one connection a chunk never overtakes the one
// before it (a byte stream is in order, as TCP delivers it); chunks on different connections do
// overtake each other, which is the reordering a TCP application can see.
import { createServer, connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [listen, ...maps] = process.argv.slice(2);
if (!listen || maps.length === 0) {
  process.stderr.write('usage: delay-hop.ts LISTEN_ADDR PORT=TARGET:PORT ...\n');
  process.exit(2);
}

let meanMs = 0;
let jitterMs = 0;
const stats = { chunks: 0, minMs: Infinity, maxMs: 0, sumMs: 0, connections: 0, overtook: 0 };
/** The latest release time of any chunk so far, in arrival order: a chunk due before it overtakes. */
let latestDue = 0;

function pipeDelayed(from: Socket, to: Socket): void {
  let last = 0;
  let pending = 0;
  let ended = false;
  const finish = () => {
    if (ended && pending === 0) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const now = performance.now();
    const want = meanMs + (jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0);
    const due = Math.max(now + want, last);
    last = due;
    if (due < latestDue) stats.overtook++;
    latestDue = Math.max(latestDue, due);
    const wait = due - now;
    stats.chunks++;
    stats.sumMs += wait;
    stats.minMs = Math.min(stats.minMs, wait);
    stats.maxMs = Math.max(stats.maxMs, wait);
    if (wait <= 0) {
      to.write(chunk);
      return;
    }
    pending++;
    setTimeout(() => {
      pending--;
      if (!to.destroyed) to.write(chunk);
      finish();
    }, wait);
  });
  from.on('end', () => {
    ended = true;
    finish();
  });
}

let listening = 0;
for (const m of maps) {
  const match = /^(\d+)=([^:]+):(\d+)$/.exec(m);
  if (!match) {
    process.stderr.write(`bad mapping ${JSON.stringify(m)}: expected PORT=TARGET:PORT\n`);
    process.exit(2);
  }
  const [, port, host, targetPort] = match;
  const server = createServer((client) => {
    stats.connections++;
    const upstream = connect(Number(targetPort), host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => setTimeout(close, meanMs + jitterMs + 10));
    upstream.on('close', () => setTimeout(close, meanMs + jitterMs + 10));
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  server.on('error', (e) => {
    process.stderr.write(`cannot listen on ${listen}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(Number(port), listen, () => {
    if (++listening === maps.length) process.stdout.write('ready\n');
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'delay' && a !== undefined && b !== undefined && Number.isFinite(Number(a)) && Number.isFinite(Number(b))) {
    meanMs = Number(a);
    jitterMs = Number(b);
    process.stdout.write('ok\n');
  } else if (cmd === 'stats') {
    const s = { chunks: stats.chunks, minMs: stats.chunks ? stats.minMs : 0, maxMs: stats.maxMs, meanMs: stats.chunks ? stats.sumMs / stats.chunks : 0, connections: stats.connections, overtook: stats.overtook };
    Object.assign(stats, { chunks: 0, minMs: Infinity, maxMs: 0, sumMs: 0, overtook: 0 });
    process.stdout.write(`stats ${JSON.stringify(s)}\n`);
  } else {
    process.stdout.write(`error: unknown command ${JSON.stringify(line)} (delay MEAN JITTER, stats)\n`);
  }
});
// The test process went away: so does the hop.
process.stdin.on('end', () => process.exit(0));
