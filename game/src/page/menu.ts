// The villager menu (shift-click or right-click): the actions that make sense for that peer now,
// and Inspect, which opens the panel with its state and log.
import type { Actions } from './actions.ts';
import type { VillageModel } from '../model.ts';

export class PeerMenu {
  /** The pointer event that last closed the menu by clicking outside it. */
  private closingEvent: Event | null = null;

  constructor(
    private readonly el: HTMLElement,
    private readonly model: VillageModel,
    private readonly actions: Actions,
    /** Opens the inspector on a villager (inspector.ts). */
    private readonly inspect?: (peer: string) => void,
  ) {
    // The same events Phaser reads (mouse and touch), seen first (capture), so the village
    // can tell that a click outside the menu only closed it.
    const outside = (e: Event) => {
      if (!this.el.hidden && !this.el.contains(e.target as Node)) {
        this.close();
        this.closingEvent = e;
      }
    };
    document.addEventListener('mousedown', outside, true);
    document.addEventListener('touchstart', outside, true);
  }

  /** Whether this pointer event only closed the menu (and should do nothing else). */
  closedBy(e: Event | undefined): boolean {
    return e !== undefined && e === this.closingEvent;
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  open(peer: string, clientX: number, clientY: number): void {
    const p = this.model.peers.get(peer);
    if (!p) return;
    const dead = p.process === 'down';
    const items: [string, () => unknown][] = [];
    if (dead) items.push([`Revive ${peer}`, () => this.actions.revive(peer)]);
    else {
      items.push([`Kill ${peer}`, () => this.actions.kill(peer)]);
      items.push([`Force an election at ${peer}`, () => this.actions.campaign(peer)]);
    }
    if (!this.model.isolated(peer)) items.push([`Isolate ${peer}`, () => this.actions.isolate(peer)]);
    items.push(['Heal all partitions', () => this.actions.heal()]);
    const inspect = this.inspect;
    if (inspect && !dead) items.push([`Inspect ${peer} (its state and log)`, () => inspect(peer)]);

    const head = document.createElement('div');
    head.className = 'head';
    head.textContent = `${peer} · ${dead ? 'dead' : p.role} · term ${p.term}`;
    const buttons = items.map(([label, run]) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.addEventListener('click', () => {
        this.close();
        void run();
      });
      return b;
    });
    this.el.replaceChildren(head, ...buttons);
    this.el.hidden = false;
    const w = this.el.offsetWidth;
    const h = this.el.offsetHeight;
    this.el.style.left = `${Math.min(clientX, window.innerWidth - w - 4)}px`;
    this.el.style.top = `${Math.min(clientY, window.innerHeight - h - 4)}px`;
    buttons[0]?.focus();
  }

  close(): void {
    this.el.hidden = true;
  }
}
