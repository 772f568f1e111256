// What an eavesdropper on the wire sees: a tcpdump capture of the test's bridge, its TCP streams
// put back together, and every WebSocket frame in them read as the receiver would (client frames
// are masked with a 4-byte key sent along with them: masking hides nothing from a listener,
// so the check unmasks them before it searches).
//
//   const cap = await startCapture(net.bridge, file);   // tcpdump -i BRIDGE -w FILE
//   ... traffic ...
//   await cap.stop();
//   const streams = readStreams(file);                 // one per direction of every TCP connection
//   const text = streams.map(wireView);                // headers + unmasked WebSocket payloads
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Capture {
  stop(): Promise<void>;
  output(): string;
}

/** Starts tcpdump on an interface; resolves once it is capturing. */
export async function startCapture(iface: string, file: string): Promise<Capture> {
  const p = spawn('tcpdump', ['-i', iface, '-w', file, '-U', '--immediate-mode', '-s', '0', '-n', 'tcp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  process.once('exit', () => p.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start capturing on ${iface}: ${out}`)), 10_000);
    const check = () => {
      if (/listening on/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stderr!.on('data', check);
    p.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`tcpdump exited (${code}): ${out}`));
    });
  });
  return {
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null) return resolve();
        p.removeAllListeners('exit');
        p.once('exit', () => resolve());
        p.kill('SIGINT');
      }),
  };
}

export interface Stream {
  /** "10.213.7.11:40000 > 10.213.7.12:6002" */
  flow: string;
  /** The bytes in order, up to the first gap. */
  data: Buffer;
}

/** Reads a pcap file (Ethernet, IPv4, TCP) and reassembles each direction of each connection. */
export function readStreams(file: string): Stream[] {
  const b = readFileSync(file);
  if (b.length < 24) throw new Error(`${file}: not a pcap file (${b.length} bytes)`);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file (magic ${magic.toString(16)})`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20);
  if (linkType !== 1) throw new Error(`${file}: link type ${linkType}, expected Ethernet (1)`);
  const flows = new Map<string, { base: number | null; parts: Map<number, Buffer> }>();
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    const pkt = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (pkt.length < 14 + 20 || pkt.readUInt16BE(12) !== 0x0800) continue;
    const ip = pkt.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== 6) continue;
    const total = ip.readUInt16BE(2);
    const src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    const dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`;
    const tcp = ip.subarray(ihl, total);
    const sport = tcp.readUInt16BE(0);
    const dport = tcp.readUInt16BE(2);
    const seq = tcp.readUInt32BE(4);
    const flags = tcp[13]!;
    const payload = tcp.subarray((tcp[12]! >> 4) * 4);
    const key = `${src}:${sport} > ${dst}:${dport}`;
    let f = flows.get(key);
    if (!f) flows.set(key, (f = { base: null, parts: new Map() }));
    if (flags & 0x02) f.base = (seq + 1) >>> 0; // SYN: data starts after it
    if (payload.length === 0) continue;
    if (f.base === null) f.base = seq;
    const off = (seq - f.base) >>> 0;
    if (off < 0x40000000 && (!f.parts.has(off) || f.parts.get(off)!.length < payload.length)) f.parts.set(off, Buffer.from(payload));
  }
  const out: Stream[] = [];
  for (const [flow, f] of flows) {
    const offs = [...f.parts.keys()].sort((a, c) => a - c);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const off of offs) {
      const part = f.parts.get(off)!;
      if (off > at) break; // a gap: what follows cannot be read in order
      if (off + part.length <= at) continue; // a retransmission of what we have
      chunks.push(part.subarray(at - off));
      at = off + part.length;
    }
    if (at > 0) out.push({ flow, data: Buffer.concat(chunks) });
  }
  return out;
}

/**
 * What a listener reads from one direction of a connection: an HTTP upgrade's headers as they
 * are, then every WebSocket frame's payload unmasked. A stream that is not HTTP (TLS records)
 * is returned as it is.
 */
export function wireView(data: Buffer): Buffer {
  const head = data.subarray(0, 16).toString('latin1');
  if (!/^(GET |HTTP\/1\.1 )/.test(head)) return data;
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return data;
  const parts: Buffer[] = [data.subarray(0, end + 4)];
  let o = end + 4;
  while (o + 2 <= data.length) {
    const b1 = data[o + 1]!;
    let len = b1 & 0x7f;
    let p = o + 2;
    if (len === 126) {
      if (p + 2 > data.length) break;
      len = data.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > data.length) break;
      len = Number(data.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = masked ? data.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (p + len > data.length) {
      parts.push(data.subarray(p)); // a frame cut short by the end of the capture
      break;
    }
    const payload = Buffer.from(data.subarray(p, p + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    parts.push(payload);
    o = p + len;
  }
  return Buffer.concat(parts);
}
