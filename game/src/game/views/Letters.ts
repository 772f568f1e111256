// Letters in the air, one per RPC the model knows of. A letter leaves when the send event is
// heard and flies toward the receiver at the cluster's delivery pace; it only finishes its
// trip when the receive event is heard, and fades out where it is when the RPC was dropped.
import Phaser from 'phaser';
import { flightPoint, type Point } from '../layout.ts';
import { letterProgress, letterTint } from '../letterMotion.ts';
import type { VillageModel } from '../../model.ts';

const MAX_SPRITES = 260;

export type LetterShape = 'book' | 'envelope' | 'heartbeat' | 'puff';
const SHAPES: Record<string, LetterShape> = { book: 'book', letter: 'envelope', 'letter-small': 'heartbeat', puff: 'puff' };

export class Letters {
  private readonly sprites = new Map<string, Phaser.GameObjects.Image>();
  private readonly pool: Phaser.GameObjects.Image[] = [];

  constructor(
    private readonly scene: Phaser.Scene,
    private readonly model: VillageModel,
  ) {}

  update(now: number, where: (name: string) => Point | null): void {
    const trip = this.model.timing?.latencyMs ?? 0;
    const keep = new Set<string>();
    for (const f of this.model.flights.values()) {
      if (keep.size >= MAX_SPRITES) break;
      const a = where(f.from);
      const b = where(f.to);
      if (!a || !b) continue;
      const pr = letterProgress(f, now, trip);
      if (!pr) continue;
      keep.add(f.rid);
      let s = this.sprites.get(f.rid);
      if (!s) {
        s = this.pool.pop() ?? this.scene.add.image(0, 0, 'letter').setDepth(30);
        s.setVisible(true);
        s.setTexture(f.heartbeat ? 'letter-small' : f.vanishedAt !== null && f.sentAt === f.vanishedAt ? 'puff' : f.rpc === 'install_snapshot' ? 'book' : 'letter');
        // A book keeps its own colours; envelopes are tinted by kind.
        if (s.texture.key === 'book') s.clearTint();
        else s.setTint(letterTint(f));
        this.sprites.set(f.rid, s);
      }
      // Letters fly between the villagers' chests; a vote request a bit higher than a reply.
      const lift = f.rpc.endsWith('_reply') ? -0.12 : 0.12;
      const pos = flightPoint({ x: a.x, y: a.y - 8 }, { x: b.x, y: b.y - 8 }, pr.t, lift);
      s.setPosition(pos.x, pos.y);
      const base = f.heartbeat ? 0.6 : f.preVote ? 0.75 : 1;
      s.setAlpha(base * pr.alpha);
      const size = pr.puff && f.heartbeat ? 0.6 : 1;
      s.setScale(size * (pr.puff ? 1 + (1 - pr.alpha) * 0.8 : 1));
      if (pr.puff && s.texture.key !== 'puff' && pr.alpha < 0.7) s.setTexture('puff');
    }
    for (const [rid, s] of this.sprites) {
      if (keep.has(rid)) continue;
      this.sprites.delete(rid);
      s.setVisible(false);
      this.pool.push(s);
    }
  }

  /** How many letters are drawn right now. */
  get count(): number {
    return this.sprites.size;
  }

  /** The letter drawn nearest to (x, y) within `radius` (canvas px), for a click; null if none. */
  at(x: number, y: number, radius = 16): string | null {
    let best: string | null = null;
    let bestD = radius * radius;
    for (const [rid, s] of this.sprites) {
      const d = (s.x - x) ** 2 + (s.y - y) ** 2;
      if (d <= bestD) {
        best = rid;
        bestD = d;
      }
    }
    return best;
  }

  /** Where each letter is drawn (canvas px), and as what: a book, an envelope, a small envelope (heartbeat) or a puff. */
  drawn(): { rid: string; x: number; y: number; shape: LetterShape }[] {
    return [...this.sprites].map(([rid, s]) => ({ rid, x: s.x, y: s.y, shape: SHAPES[s.texture.key] ?? 'envelope' }));
  }
}
