import { describe, expect, it } from 'vitest';
import {
  MAX_CLIENT_ID_LENGTH,
  MAX_COMMAND_ITEMS,
  MAX_ID_LENGTH,
  badCommandResult,
  badFrame,
  decodeClientFrame,
  notLeaderResult,
  okResult,
  parseClientReply,
  parseCommandResult,
  parseErrorReply,
  parseRequestCommand,
  unknownResult,
} from '../../shared/client-protocol.ts';

function requestError(x: unknown): { message: string; id?: string } {
  const p = parseRequestCommand(x);
  if (p.ok) throw new Error(`expected ${JSON.stringify(x)} to be rejected`);
  const { ok: _ok, ...rest } = p;
  return rest;
}

describe('request_command', () => {
  it('accepts the contract example, with and without a session', () => {
    expect(parseRequestCommand({ type: 'request_command', id: 'r1', command: ['x', 'add', '100'] })).toEqual({
      ok: true,
      value: { type: 'request_command', id: 'r1', command: ['x', 'add', '100'] },
    });
    expect(parseRequestCommand({ type: 'request_command', id: 'r2', command: ['x', 'get'], client: 'c1', seq: 4 })).toEqual({
      ok: true,
      value: { type: 'request_command', id: 'r2', command: ['x', 'get'], client: 'c1', seq: 4 },
    });
  });

  it('leaves the meaning of the command to the state machine', () => {
    expect(parseRequestCommand({ type: 'request_command', id: 'r', command: ['x', 'nonsense', {}] }).ok).toBe(true);
  });

  it('rejects frames that are not requests, keeping the id when it could be read', () => {
    expect(requestError([1, 2]).message).toMatch(/expected a JSON object, got a list/);
    expect(requestError({ type: 'hello', id: 'r9' })).toEqual({ message: 'expected "type":"request_command", got the string "hello"', id: 'r9' });
    expect(requestError({ type: 'request_command', command: [] }).message).toMatch(/missing "id"/);
    expect(requestError({ type: 'request_command', id: 7, command: [] }).message).toMatch(/"id" must be a string, got number 7/);
    expect(requestError({ type: 'request_command', id: '', command: [] }).message).toMatch(/must not be empty/);
    expect(requestError({ type: 'request_command', id: 'x'.repeat(MAX_ID_LENGTH + 1), command: [] }).message).toMatch(/longer than/);
    expect(requestError({ type: 'request_command', id: 'r', command: 'x add 1' })).toEqual({
      message: '"command" must be a list such as ["x","add","100"], got the string "x add 1"',
      id: 'r',
    });
    expect(requestError({ type: 'request_command', id: 'r' }).message).toMatch(/missing "command"/);
    expect(requestError({ type: 'request_command', id: 'r', command: new Array(MAX_COMMAND_ITEMS + 1).fill('a') }).message).toMatch(/at most/);
  });

  it('needs client and seq together, each well formed', () => {
    expect(requestError({ type: 'request_command', id: 'r', command: [], client: 'c' }).message).toMatch(/go together/);
    expect(requestError({ type: 'request_command', id: 'r', command: [], seq: 1 }).message).toMatch(/go together/);
    expect(requestError({ type: 'request_command', id: 'r', command: [], client: 'c', seq: 0 }).message).toMatch(/"seq" must be a whole number from 1/);
    expect(requestError({ type: 'request_command', id: 'r', command: [], client: 'c', seq: 1.5 }).message).toMatch(/"seq"/);
    expect(requestError({ type: 'request_command', id: 'r', command: [], client: '', seq: 1 }).message).toMatch(/"client" must be a non-empty string/);
    expect(requestError({ type: 'request_command', id: 'r', command: [], client: 'c'.repeat(MAX_CLIENT_ID_LENGTH + 1), seq: 1 }).message).toMatch(
      /"client"/,
    );
  });
});

describe('command_result', () => {
  it('accepts every variant of the contract', () => {
    const variants = [
      { type: 'command_result', id: 'r1', ok: true, value: 100, index: 12, term: 3 },
      { type: 'command_result', id: 'r1', ok: true, value: null, index: 0, term: 1 },
      { type: 'command_result', id: 'r1', ok: false, error: 'not_leader', leader: 'peer2' },
      { type: 'command_result', id: 'r1', ok: false, error: 'not_leader', leader: null },
      { type: 'command_result', id: 'r1', ok: false, error: 'bad_command', message: 'unknown operation' },
      { type: 'command_result', id: 'r1', ok: false, error: 'unknown' },
    ];
    for (const v of variants) expect(parseCommandResult(v)).toEqual({ ok: true, value: v });
  });

  it('matches what the reply constructors produce', () => {
    for (const r of [okResult('a', 1, 2, 3), notLeaderResult('a', null), notLeaderResult('a', 'peer3'), badCommandResult('a', 'no'), unknownResult('a')]) {
      expect(parseCommandResult(JSON.parse(JSON.stringify(r)))).toEqual({ ok: true, value: r });
    }
    expect(okResult('a', undefined, 1, 1).value).toBeNull();
  });

  it('rejects malformed results', () => {
    const bad = [
      { type: 'command_result', id: 'r', ok: true, index: 1, term: 1 },
      { type: 'command_result', id: 'r', ok: true, value: 1, index: -1, term: 1 },
      { type: 'command_result', id: 'r', ok: true, value: 1, index: 1, term: '1' },
      { type: 'command_result', id: 'r', ok: 'yes' },
      { type: 'command_result', id: 'r', ok: false, error: 'not_leader' },
      { type: 'command_result', id: 'r', ok: false, error: 'bad_command' },
      { type: 'command_result', id: 'r', ok: false, error: 'oops' },
      { type: 'command_result', ok: false, error: 'unknown' },
      { type: 'request_command', id: 'r' },
    ];
    for (const b of bad) expect(parseCommandResult(b).ok, JSON.stringify(b)).toBe(false);
  });
});

describe('error replies and frames', () => {
  it('parses the bad_frame reply, with and without id', () => {
    expect(parseErrorReply(badFrame('nope'))).toEqual({ ok: true, value: { type: 'error', error: 'bad_frame', message: 'nope' } });
    expect(parseClientReply(badFrame('nope', 'r3'))).toEqual({ ok: true, value: { type: 'error', error: 'bad_frame', message: 'nope', id: 'r3' } });
    expect(parseErrorReply({ type: 'error', error: 'other', message: 'x' }).ok).toBe(false);
    expect(parseClientReply(unknownResult('z'))).toEqual({ ok: true, value: unknownResult('z') });
  });

  it('decodes a raw frame into a request or the error reply to send', () => {
    expect(decodeClientFrame('{"type":"request_command","id":"r1","command":["x","add","100"]}')).toEqual({
      ok: true,
      request: { type: 'request_command', id: 'r1', command: ['x', 'add', '100'] },
    });
    const notJson = decodeClientFrame('{nope');
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.reply).toMatchObject({ type: 'error', error: 'bad_frame', message: expect.stringMatching(/not valid JSON/) });
    const noCommand = decodeClientFrame('{"type":"request_command","id":"r2"}');
    if (noCommand.ok) throw new Error('expected an error');
    expect(noCommand.reply).toEqual({ type: 'error', error: 'bad_frame', message: expect.stringMatching(/missing "command"/), id: 'r2' });
    const big = decodeClientFrame(JSON.stringify({ type: 'request_command', id: 'r', command: ['x', 'set', 'v'.repeat(5000)] }), 1024);
    if (big.ok) throw new Error('expected an error');
    expect(big.reply.message).toBe('frame is larger than 1024 bytes');
  });
});
