// Intents from the page (clicks, keys, the console) become relay commands; every outcome is
// written to the console log so the user sees what happened and why something failed.
import type { Command, RelayConnection, Reply } from './connection.ts';
import type { VillageModel } from '../model.ts';

export class Actions {
  constructor(
    private readonly conn: RelayConnection,
    private readonly model: VillageModel,
    /** Why commands are off now (a replay, a rewound village), or null; such a command is not sent. */
    private readonly liveOnly: () => string | null = () => null,
  ) {}

  kill(peer: string): Promise<Reply> {
    return this.run(`kill ${peer}`, { type: 'kill', peer });
  }

  revive(peer: string): Promise<Reply> {
    return this.run(`revive ${peer}`, { type: 'revive', peer });
  }

  isolate(peer: string): Promise<Reply> {
    return this.run(`isolate ${peer}`, { type: 'isolate', peer });
  }

  heal(): Promise<Reply> {
    return this.run('heal', { type: 'heal' });
  }

  campaign(peer: string): Promise<Reply> {
    return this.run(`force an election at ${peer}`, { type: 'campaign', peer });
  }

  setAttacks(on: boolean): Promise<Reply> {
    return this.run(`attacks ${on ? 'on' : 'off'}`, { type: 'attacks', on });
  }

  toggleAttacks(): Promise<Reply> {
    return this.setAttacks(!this.model.attacks);
  }

  /**
   * A line typed in the web console, sent as typed. The relay writes the line and its outcome
   * to every console panel, so only a failure the relay never saw is written here.
   */
  async consoleLine(line: string): Promise<Reply> {
    const reply = await this.conn.send({ type: 'console', line });
    if (reply.local) {
      this.model.addConsoleLine('input', `> ${line}`, Date.now());
      this.model.addConsoleLine('error', reply.text, Date.now());
    }
    return reply;
  }

  private async run(label: string, cmd: Command): Promise<Reply> {
    this.model.addConsoleLine('input', `• ${label}`, Date.now());
    const off = this.liveOnly();
    if (off !== null) {
      this.model.addConsoleLine('error', `not done: ${off}`, Date.now());
      return { ok: false, local: true, text: off };
    }
    const reply = await this.conn.send(cmd);
    const text = reply.text || (reply.ok ? 'ok' : 'failed');
    this.model.addConsoleLine(reply.ok ? 'result' : 'error', text, Date.now());
    return reply;
  }
}
