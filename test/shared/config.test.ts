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

  it('reads the snapshot and log-file limits, with defaults when [limits] leaves them out', () => {
    const repo = loadConfig('raft_peer.ini').limits;
    expect(repo).toMatchObject({ snapshotEntries: 10000, snapshotBytes: 8388608, snapshotTrailingEntries: 1000, logFileBytes: 10485760, logFilesKept: 3 });
    expect(parseConfig(good).limits).toMatchObject({ snapshotEntries: 10000, snapshotBytes: 8 * 1024 * 1024, snapshotTrailingEntries: 1000, logFileBytes: 10 * 1024 * 1024, logFilesKept: 3 });
    const set = parseConfig(`${good}[limits]\nsnapshot_entries = 50\nsnapshot_bytes = 4096\nsnapshot_trailing_entries = 0\nlog_file_bytes = 8192\nlog_files_kept = 1\n`).limits;
    expect(set).toMatchObject({ snapshotEntries: 50, snapshotBytes: 4096, snapshotTrailingEntries: 0, logFileBytes: 8192, logFilesKept: 1 });
  });

  it('reports a snapshot or log-file limit out of range, naming the key', () => {
    const limits = (line: string) => errorOf(`${good}[limits]\n${line}\n`);
    expect(limits('snapshot_entries = 0')).toBe('test.ini: [limits] snapshot_entries: expected a number >= 1, got 0');
    expect(limits('snapshot_bytes = 10')).toBe('test.ini: [limits] snapshot_bytes: expected a number >= 1024, got 10');
    expect(limits('snapshot_trailing_entries = -1')).toBe('test.ini: [limits] snapshot_trailing_entries: expected a whole number, got "-1"');
    expect(limits('snapshot_entries = lots')).toBe('test.ini: [limits] snapshot_entries: expected a whole number, got "lots"');
    expect(limits('log_file_bytes = 100')).toBe('test.ini: [limits] log_file_bytes: expected a number >= 4096, got 100');
    expect(limits('log_files_kept = 0')).toBe('test.ini: [limits] log_files_kept: expected a number >= 1, got 0');
    expect(limits('log_files_kept = 1000')).toBe('test.ini: [limits] log_files_kept: expected at most 100 old log files, got 1000');
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

  it('records the village by default: 64 MiB per file, 20 files kept', () => {
    const c = parseConfig(good, 'test.ini');
    expect(c.relay.recordingBytes).toBe(64 * 1024 * 1024);
    expect(c.relay.recordingsKept).toBe(20);
    const set = parseConfig(good + 'recording_bytes = 2097152\nrecordings_kept = 3\n', 'test.ini');
    expect([set.relay.recordingBytes, set.relay.recordingsKept]).toEqual([2097152, 3]);
    expect(parseConfig(good + 'recording_bytes = 0\n', 'test.ini').relay.recordingBytes).toBe(0);
  });

  it('reports a recording size too small to hold a picture, and no recording kept', () => {
    expect(errorOf(good + 'recording_bytes = 1000\n')).toMatch(/\[relay\] recording_bytes: expected 0 \(no recording\) or at least 1048576 \(1 MiB\), got 1000/);
    expect(errorOf(good + 'recordings_kept = 0\n')).toMatch(/\[relay\] recordings_kept: expected a number >= 1, got 0/);
    expect(errorOf(good + 'recording_bytes = lots\n')).toMatch(/\[relay\] recording_bytes: expected a whole number, got "lots"/);
  });

  it('reports an unreadable file with the way to point at another', () => {
    expect(() => loadConfig('/nonexistent/raft_peer.ini')).toThrow(/cannot read the config file.*--config FILE or set RAFT_CONFIG/);
  });
});
