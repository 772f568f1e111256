// Which launcher runs which villager. A class runs one launcher per machine (`npm run cluster --
// N -v --here` starts only the peers whose [peers] host is that machine), so a kill or revive
// must go to the launcher of the villager's own host, not to whichever connected last.
//
// A launcher says what it runs in its launcher_hello (`runs`; a launcher without it runs every
// peer of `peers`). A command for a peer goes to the most recently connected launcher that runs
// it; none: the command cannot be carried out (the caller says so).
export class LauncherRoutes<L> {
  /** Launchers in the order they connected, each with the peers it runs (null: not said yet). */
  private readonly list: { launcher: L; runs: Set<string> | null }[] = [];

  add(launcher: L): void {
    this.list.push({ launcher, runs: null });
  }

  /** The launcher's hello: the cluster it belongs to, and the peers it runs (default: all of them). */
  hello(launcher: L, peers: readonly string[], runs?: readonly string[]): void {
    const e = this.list.find((x) => x.launcher === launcher);
    if (e) e.runs = new Set(runs ?? peers);
  }

  remove(launcher: L): void {
    const i = this.list.findIndex((x) => x.launcher === launcher);
    if (i >= 0) this.list.splice(i, 1);
  }

  get size(): number {
    return this.list.length;
  }

  /** The launcher to send a command for `peer` to, or undefined. */
  for(peer: string): L | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const e = this.list[i]!;
      if (e.runs?.has(peer)) return e.launcher;
    }
    return undefined;
  }
}
