import { describe, expect, it } from 'vitest';
import { formatKv, parseConsoleLine } from '../../game/relay/console.ts';

const ok = (line: string) => {
  const r = parseConsoleLine(line);
  if (!r.ok) throw new Error(`${line}: ${r.message}`);
  return r.command;
};
const err = (line: string) => {
  const r = parseConsoleLine(line);
  if (r.ok) throw new Error(`${line} parsed as ${JSON.stringify(r.command)}`);
  return r.message;
};

describe('console line parser', () => {
  it('reads key-value commands key first, verb first and as lists', () => {
    expect(ok('x add 100')).toEqual({ kind: 'kv', command: ['x', 'add', 100] });
    expect(ok("['x','add','100']")).toEqual({ kind: 'kv', command: ['x', 'add', '100'] });
    expect(ok('["x", "add", 100]')).toEqual({ kind: 'kv', command: ['x', 'add', 100] });
    expect(ok('get x')).toEqual({ kind: 'kv', command: ['x', 'get'] });
    expect(ok('x get')).toEqual({ kind: 'kv', command: ['x', 'get'] });
    expect(ok('set y 5')).toEqual({ kind: 'kv', command: ['y', 'set', 5] });
    expect(ok('set name "hello world"')).toEqual({ kind: 'kv', command: ['name', 'set', 'hello world'] });
    expect(ok('set v 007x')).toEqual({ kind: 'kv', command: ['v', 'set', '007x'] });
    expect(ok('add x 1')).toEqual({ kind: 'kv', command: ['x', 'add', 1] });
    expect(ok('add x -2.5')).toEqual({ kind: 'kv', command: ['x', 'add', -2.5] });
    expect(ok('cas k a b')).toEqual({ kind: 'kv', command: ['k', 'cas', 'a', 'b'] });
    expect(ok('del k')).toEqual({ kind: 'kv', command: ['k', 'del'] });
    expect(ok('SET y true')).toEqual({ kind: 'kv', command: ['y', 'set', true] });
    expect(ok("['x', add, '2']")).toEqual({ kind: 'kv', command: ['x', 'add', '2'] });
    expect(ok('cas k null 1')).toEqual({ kind: 'kv', command: ['k', 'cas', null, 1] });
  });

  it('reads village commands', () => {
    expect(ok('kill peer2')).toEqual({ kind: 'kill', peer: 'peer2' });
    expect(ok('revive peer2')).toEqual({ kind: 'revive', peer: 'peer2' });
    expect(ok('isolate peer3')).toEqual({ kind: 'isolate', peer: 'peer3' });
    expect(ok('campaign peer1')).toEqual({ kind: 'campaign', peer: 'peer1' });
    expect(ok('elect peer1')).toEqual({ kind: 'campaign', peer: 'peer1' });
    expect(ok('heal')).toEqual({ kind: 'heal' });
    expect(ok('attacks off')).toEqual({ kind: 'attacks', on: false });
    expect(ok('attacks on')).toEqual({ kind: 'attacks', on: true });
    expect(ok('attacks')).toEqual({ kind: 'attacks', on: null });
    expect(ok('  status ')).toEqual({ kind: 'status' });
    expect(ok('help')).toEqual({ kind: 'help' });
  });

  it('reads the village clock\'s commands: pause, resume, step and speed as 0.25, 0.25x or 25%', () => {
    expect(ok('pause')).toEqual({ kind: 'clock', action: 'pause' });
    expect(ok('Resume')).toEqual({ kind: 'clock', action: 'resume' });
    expect(ok('step')).toEqual({ kind: 'clock', action: 'step' });
    expect(ok('speed 0.25')).toEqual({ kind: 'clock', action: 'speed', speed: 0.25 });
    expect(ok('speed .5x')).toEqual({ kind: 'clock', action: 'speed', speed: 0.5 });
    expect(ok('speed 10%')).toEqual({ kind: 'clock', action: 'speed', speed: 0.1 });
    expect(err('speed 2')).toBe("speed takes 0.05 to 1 (of the profile's pace), got 2");
    expect(err('speed 0.01x')).toMatch(/0\.05 to 1/);
  });

  it('lets keys share names with village commands', () => {
    expect(ok('pause set 5')).toEqual({ kind: 'kv', command: ['pause', 'set', 5] });
    expect(ok('speed add 1')).toEqual({ kind: 'kv', command: ['speed', 'add', 1] });
    expect(ok('kill add 1')).toEqual({ kind: 'kv', command: ['kill', 'add', 1] });
    expect(ok('status get')).toEqual({ kind: 'kv', command: ['status', 'get'] });
  });

  it('says what is wrong with a bad line', () => {
    expect(err('')).toMatch(/empty/);
    expect(err('set y')).toMatch(/usage: set KEY VALUE/);
    expect(err('x add')).toMatch(/usage: add KEY NUMBER/);
    expect(err('cas k a')).toMatch(/usage: cas KEY FROM TO/);
    expect(err('kill')).toMatch(/usage: kill PEER/);
    expect(err('attacks maybe')).toMatch(/on or off/);
    expect(err('frobnicate')).toMatch(/cannot read "frobnicate" as a command.*help/);
    expect(err("['x','add'")).toMatch(/must end with \]/);
    expect(err("['x','mul','2']")).toMatch(/unknown operation/);
    expect(err("['x','add']")).toMatch(/usage/);
    expect(err('set k "open')).toMatch(/missing closing/);
    expect(err('[]')).toMatch(/empty list/);
    expect(err('toString peer1')).toMatch(/unknown operation "peer1"/);
  });

  it('formats commands as typed', () => {
    expect(formatKv(['x', 'add', 100])).toBe('x add 100');
    expect(formatKv(['name', 'set', 'hello world'])).toBe('name set "hello world"');
  });
});
