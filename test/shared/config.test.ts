import { describe, expect, it } from 'vitest';
import { clusterOf, findPeer, loadConfig, parseConfig, ConfigError } from '../../shared/config.ts';

const good = `
[cluster]
secret = s
profile = fast
[peers]
peer1 = 127.0.0.1:7001
peer2 = 127.0.0.1:7002
peer3 = 127.0.0.1:7003
[profile.fast]
heartbeat_ms = 50
election_min_ms = 150
election_max_ms = 300
[relay]
host = 127.0.0.1
port = 7100
`;

function errorOf(text: string): string {
  try {
    parseConfig(text, 'test.ini');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('raft_peer.ini loader', () => {
  it('loads the repository raft_peer.ini with nine peers, both profiles and the relay', () => {
    const c = loadConfig('raft_peer.ini');
    expect(c.peers.map((p) => p.name)).toEqual(['peer1', 'peer2', 'peer3', 'peer4', 'peer5', 'peer6', 'peer7', 'peer8', 'peer9']);
    expect(c.profiles.fast).toEqual({ heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 });
    expect(c.profiles.slow!.latencyMs).toBeGreaterThan(0);
    expect(c.relay.port).toBe(6100);
    expect(c.secret.length).toBeGreaterThan(0);
  });

  it('takes the first N names as the cluster', () => {
    const c = parseConfig(good);
    expect(clusterOf(c, 2).map((p) => p.name)).toEqual(['peer1', 'peer2']);
    expect(findPeer(c, 'peer2', 3).port).toBe(7002);
  });

  it('names the valid peers when a name is unknown', () => {
    const c = parseConfig(good);
    expect(() => findPeer(c, 'peer7', 3)).toThrow(/peer7 is not one of the 3 peers.*names there: peer1, peer2, peer3/);
    expect(() => findPeer(c, 'peer3', 2)).toThrow(/peer3 is not one of the 2 peers/);
  });

  it('refuses a count larger than the names listed', () => {
    const c = parseConfig(good);
    expect(() => clusterOf(c, 4)).toThrow(/lists 3 peers.*cluster of 4 is not possible/);
    expect(() => clusterOf(c, 0)).toThrow(/whole number from 1 to 3/);
  });

  it('reports a duplicate port with both peer names', () => {
    expect(errorOf(good.replace('7002', '7001'))).toMatch(/test.ini: \[peers\] peer2: port 7001 is already used by peer1/);
  });

  it('reports election min >= max', () => {
    expect(errorOf(good.replace('election_min_ms = 150', 'election_min_ms = 300'))).toMatch(/\[profile.fast\] election_min_ms: expected election_min_ms < election_max_ms/);
  });

  it('reports heartbeat >= election min', () => {
    expect(errorOf(good.replace('heartbeat_ms = 50', 'heartbeat_ms = 150'))).toMatch(/\[profile.fast\] heartbeat_ms: expected heartbeat_ms < election_min_ms/);
  });

  it('reports a missing section', () => {
    expect(errorOf(good.replace('[relay]', '[other]'))).toMatch(/test.ini: \[relay\]: missing section/);
  });

  it('reports a non-number with the key and the value found', () => {
    expect(errorOf(good.replace('heartbeat_ms = 50', 'heartbeat_ms = fast'))).toMatch(/\[profile.fast\] heartbeat_ms: expected a whole number, got "fast"/);
  });

  it('reads [relay] max_pause_s (300 s when absent) and refuses one that is not a whole number of at least 1', () => {
    expect(parseConfig(good, 'test.ini').relay.maxPauseS).toBe(300);
    expect(parseConfig(`${good}max_pause_s = 7\n`, 'test.ini').relay.maxPauseS).toBe(7);
    expect(errorOf(`${good}max_pause_s = 0\n`)).toMatch(/\[relay\] max_pause_s.*expected a number >= 1, got 0/);
    expect(errorOf(`${good}max_pause_s = soon\n`)).toMatch(/\[relay\] max_pause_s.*expected a whole number, got "soon"/);
  });

  it('reports a malformed peer address', () => {
    expect(errorOf(good.replace('127.0.0.1:7003', 'localhost'))).toMatch(/\[peers\] peer3: expected host:port/);
  });

  it('reports an unreadable file with the way to point at another', () => {
    expect(() => loadConfig('/nonexistent/raft_peer.ini')).toThrow(/cannot read the config file.*--config FILE or set RAFT_CONFIG/);
  });
});
