// The relay as a real process, for black-box tests.
//
// - spawnRelay(): the relay server (game/relay/server.ts, the code `npm run game` runs) hosted by
//   this file's entry point, with a known control token and a page of our own, so a test can
//   use the control path even where game/dist has not been built.
// - spawnGame(): `npm run game` itself (game/relay/main.ts) with nothing but a config, to see
//   what it does by default.
// Both exit when the test process goes away (their stdin closes).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../../shared/config.ts';
import { ClusterClient } from '../../shared/client.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startRelay } from '../../game/relay/server.ts';

const SELF = fileURLToPath(import.meta.url);
const GAME_MAIN = join(REPO_ROOT, 'game/relay/main.ts');

export interface RelayProcess {
  proc: ChildProcess;
  pid: number;
  port: number;
  host: string;
  token: string | null;
  output(): string;
  kill(): Promise<void>;
}

function run(args: string[], ready: RegExp): Promise<RelayProcess & { match: RegExpExecArray }> {
  const proc = spawn(process.execPath, ['--import', tsxLoader(), ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.stdin!.on('error', () => {});
  process.once('exit', () => proc.kill('SIGKILL'));
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await gone;
  };
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      void kill();
      reject(new Error(`the relay did not start within 20 s:\n${out}`));
    }, 20_000);
    const check = () => {
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(t);
      proc.stdout!.off('data', check);
      resolve({ proc, pid: proc.pid!, port: Number(m.groups!.port), host: m.groups!.host!, token: m.groups!.token ?? null, output: () => out, kill, match: m });
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code, sig) => {
      clearTimeout(t);
      reject(new Error(`the relay exited (${code ?? sig}) before it was ready:\n${out}`));
    });
  });
}

/** The relay server in its own process, on the config's [relay] host and port, with a known token. */
export function spawnRelay(ini: string, token: string): Promise<RelayProcess> {
  return run([SELF, '--config', ini, '--token', token], /relay host listening on (?<host>\S+):(?<port>\d+) token (?<token>\S+)/);
}

/** `npm run game -- --config INI --attacks off`, exactly as a user starts it. */
export function spawnGame(ini: string): Promise<RelayProcess> {
  return run([GAME_MAIN, '--config', ini, '--attacks', 'off'], /relay listening on (?<host>\S+):(?<port>\d+)/);
}

// ---- the entry point of spawnRelay's child ----

async function host(argv: string[]): Promise<void> {
  const arg = (flag: string) => argv[argv.indexOf(flag) + 1]!;
  const config = loadConfig(arg('--config'));
  const token = arg('--token');
  const dist = mkdtempSync(join(tmpdir(), 'relay-page-'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><html><head><title>village</title></head><body>village</body></html>\n');
  const relay = await startRelay({
    config,
    attacks: false,
    distDir: dist,
    token,
    kvClient: (peers) => new ClusterClient({ peers, clientId: `relay-test-${process.pid}`, timeoutMs: 5000 }),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`relay host listening on ${relay.host}:${relay.port} token ${relay.token}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  host(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`relay host: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
