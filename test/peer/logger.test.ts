// The peer's log file: rotated at a size, keeping a few old files, so it cannot fill a disk.
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerLogger } from '../../peer/logger.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('the peer log file', () => {
  it('rotates at log_file_bytes into <name>.log.1, .2 ..., keeps log_files_kept old files, and loses no line it keeps', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'rv-logger-'));
    dirs.push(dir);
    const file = join(dir, 'peer1.log');
    fs.writeFileSync(file, 'a line from before the start\n');
    const logger = new PeerLogger(file, 'peer1', false, { maxBytes: 4096, keep: 2 });
    for (let i = 0; i < 400; i++) {
      logger.line(`line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}`);
      if (i % 10 === 9) logger.flush();
    }
    await logger.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['peer1.log', 'peer1.log.1', 'peer1.log.2']);
    for (const f of ['peer1.log', 'peer1.log.1', 'peer1.log.2']) expect(fs.statSync(join(dir, f)).size, f).toBeLessThanOrEqual(4096);
    // Oldest to newest, the kept files hold consecutive lines ending with the last one.
    const numbers = ['peer1.log.2', 'peer1.log.1', 'peer1.log']
      .flatMap((f) => fs.readFileSync(join(dir, f), 'utf8').split('\n'))
      .filter((l) => l.includes(' line '))
      .map((l) => Number(/ line (\d{4}) /.exec(l)![1]));
    expect(numbers.at(-1)).toBe(399);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
    expect(numbers.length).toBeGreaterThan(100);
  });

  it('counts what the file already holds when it starts, and never rotates without a size limit', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'rv-logger-'));
    dirs.push(dir);
    const file = join(dir, 'peer2.log');
    fs.writeFileSync(file, 'y'.repeat(5000) + '\n');
    const rotating = new PeerLogger(file, 'peer2', false, { maxBytes: 4096, keep: 3 });
    rotating.line('first line after the start');
    rotating.flush();
    await rotating.close();
    expect(fs.readFileSync(`${file}.1`, 'utf8')).toMatch(/^y+\n$/);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/first line after the start/);
    const plain = new PeerLogger(file, 'peer2', false);
    for (let i = 0; i < 200; i++) plain.line('z'.repeat(100));
    plain.flush();
    await plain.close();
    expect(fs.existsSync(`${file}.2`)).toBe(false);
    expect(fs.statSync(file).size).toBeGreaterThan(20_000);
  });
});
