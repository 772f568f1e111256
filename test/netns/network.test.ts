// The namespace network itself: torn down after a failure, stale leftovers removed, faults the
// kernel refuses reported, and without root a clear refusal instead of a pass.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createNetwork, linkExists, namespacesOf, removeStale, requireNetns } from '../support/netns.ts';

/** A pid no process has now (for a "killed earlier run"). */
function deadPid(): number {
  for (let pid = 4_000_000; pid > 3_000_000; pid -= 7919) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('no free pid found');
}

describe('the test network of namespaces', () => {
  it('removes its namespaces and bridge when the test using it fails', () => {
    const net = createNetwork(['a', 'b']);
    const id = net.id;
    expect(namespacesOf(id)).toHaveLength(2);
    expect(() => {
      try {
        throw new Error('a failing test');
      } finally {
        net.teardown();
      }
    }).toThrow('a failing test');
    expect(namespacesOf(id)).toEqual([]);
    expect(linkExists(net.bridge)).toBe(false);
  });

  it('removes what a killed earlier run left behind, and nothing of a live run', () => {
    const stale = `rv${deadPid()}a`;
    spawnSync('ip', ['netns', 'add', `${stale}-peer1`]);
    spawnSync('ip', ['link', 'add', `${stale}b`, 'type', 'bridge']);
    const live = createNetwork(['a']);
    try {
      expect(namespacesOf(stale)).toEqual([]);
      expect(linkExists(`${stale}b`)).toBe(false);
      removeStale();
      expect(namespacesOf(live.id)).toHaveLength(1);
    } finally {
      live.teardown();
    }
  });

  it('reaches a host at its address and cuts it off when its link goes down', async () => {
    const net = createNetwork(['a']);
    try {
      const server = net.spawn('a', process.execPath, ['-e', `require('net').createServer(c=>c.end('hi')).listen(7000,'${net.address('a')}',()=>console.log('up'))`], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      await new Promise<void>((r) => server.stdout!.once('data', () => r()));
      const hello = () =>
        new Promise<string>((resolve, reject) => {
          const s = connect(7000, net.address('a'));
          let got = '';
          s.setTimeout(1000, () => s.destroy(new Error('timed out')));
          s.on('data', (d: Buffer) => (got += d.toString()));
          s.on('end', () => resolve(got));
          s.on('error', reject);
        });
      expect(await hello()).toBe('hi');
      net.linkDown('a');
      await expect(hello()).rejects.toThrow();
      net.linkUp('a');
      expect(await hello()).toBe('hi');
    } finally {
      net.teardown();
    }
  });

  it('fails loudly when the kernel refuses a fault rule', () => {
    const net = createNetwork(['a']);
    try {
      expect(() => net.nft('a', 'add rule inet rvfault out meta nosuchthing 1 drop\n')).toThrow(/nft -f - failed/);
      expect(() => net.setLoss(120)).toThrow(/percentage/);
      expect(() => net.cutIncoming('a')).toThrow(/runs no peer/);
    } finally {
      net.teardown();
    }
  });

  it('refuses to run without root or without its tools, saying what to do', () => {
    expect(() => requireNetns(['ip', 'nft'], 1000)).toThrow(/needs root: .*Run it as root/);
    expect(() => requireNetns(['ip', 'nft', 'no-such-tool-here'], 0)).toThrow(/needs no-such-tool-here \(not found on PATH\): apt-get install -y no-such-tool-here/);
    expect(() => requireNetns(['ip', 'nft'], 0)).not.toThrow();
  });
});
