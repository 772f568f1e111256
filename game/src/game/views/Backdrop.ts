// What does not move, drawn once and left to the browser: a 2D canvas right behind the game's
// (transparent) canvas, same size and place. Phaser redraws every visible object on every frame,
// and with software rendering every pixel a frame covers costs (a full-screen picture alone takes
// an empty scene from ~50 to ~5 frames per second on a busy two-core machine), while the browser
// composites a canvas that did not change for almost nothing. So the ground, the legend and the
// frames of the board and the log table are drawn with Phaser once, copied here, and destroyed;
// views may paint other slowly changing parts here with the 2D API (`paint`, or `layer` for a
// part that moves or changes size, such as a villager's ring and lines).
import Phaser from 'phaser';

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Region extends Rect {
  draw: (g: CanvasRenderingContext2D) => void;
  /** Regions of a higher level are drawn over those of a lower one (the HUD over the villagers). */
  level: number;
}

export class Backdrop {
  /** Holds the canvas in a closed shadow root: the page keeps exactly one canvas to find, the game's. */
  private readonly host: HTMLDivElement;
  private readonly g: CanvasRenderingContext2D;
  /** The still picture, to repaint a region from. */
  private still: CanvasImageSource | null = null;
  /**
   * The last drawing of every painted region, in the order they were first painted: drawn again
   * over the still picture when it arrives, and wherever a repaint of another region overlaps it.
   */
  private readonly regions = new Map<string, Region>();
  private placed = '';
  private shaken = '';

  constructor(
    private readonly game: Phaser.Game,
    readonly width: number,
    readonly height: number,
  ) {
    const host = document.createElement('div');
    host.className = 'village-backdrop';
    host.setAttribute('aria-hidden', 'true');
    Object.assign(host.style, { position: 'absolute', left: '0px', top: '0px', pointerEvents: 'none' });
    const c = document.createElement('canvas');
    c.width = width;
    c.height = height;
    Object.assign(c.style, { display: 'block', width: '100%', height: '100%' });
    host.attachShadow({ mode: 'closed' }).append(c);
    const g = c.getContext('2d');
    if (!g) throw new Error('no 2D canvas for the village backdrop');
    this.host = host;
    this.g = g;
    // Both positioned: the game's canvas, later in the document, is drawn over the backdrop.
    game.canvas.style.position = 'relative';
    game.canvas.parentElement?.insertBefore(host, game.canvas);
    this.place();
  }

  /**
   * Draws `objects` (in depth order) once, makes that the backdrop, then destroys them; until the
   * copy is there (a moment, it is read back from WebGL) they stay on the game's canvas.
   */
  bake(scene: Phaser.Scene, key: string, objects: Phaser.GameObjects.GameObject[]): void {
    const sorted = objects
      .map((o, i) => ({ o, i, depth: (o as unknown as { depth?: number }).depth ?? 0 }))
      .sort((a, b) => a.depth - b.depth || a.i - b.i)
      .map((x) => x.o);
    const dt = scene.textures.addDynamicTexture(key, this.width, this.height);
    if (!dt) return;
    dt.draw(sorted);
    dt.render();
    dt.snapshot((img) => {
      if (!(img instanceof HTMLImageElement)) return;
      const done = () => {
        this.still = img;
        this.repaint({ x: 0, y: 0, w: this.width, h: this.height });
        for (const o of objects) o.destroy();
        scene.textures.remove(key);
      };
      if (img.complete) done();
      else img.onload = done;
    });
  }

  /** Repaints a region: the still picture there, then `draw` on top (in canvas pixels). */
  paint(x: number, y: number, w: number, h: number, draw: (g: CanvasRenderingContext2D) => void): void {
    const r = { x, y, w, h, draw, level: 0 };
    this.regions.set(`${x},${y},${w},${h}`, r);
    this.repaint(r);
  }

  /**
   * A named region that may move or change size (a villager's ring and lines): `draw` replaces
   * what it drew before, where it drew it before; null removes it. Regions it overlaps are drawn
   * again there, by level, then in the order they were first painted.
   */
  layer(key: string, rect: Rect | null, draw: (g: CanvasRenderingContext2D) => void = () => {}, level = 0): void {
    const name = `layer:${key}`;
    const old = this.regions.get(name);
    if (rect) this.regions.set(name, { ...rect, draw, level });
    else this.regions.delete(name);
    if (old) this.repaint(old);
    if (rect && !(old && contains(old, rect))) this.repaint(rect);
  }

  /** The still picture in `area`, then every region that overlaps it, clipped to `area`. */
  private repaint(area: Rect): void {
    const x = Math.max(0, Math.floor(area.x));
    const y = Math.max(0, Math.floor(area.y));
    const w = Math.min(this.width, Math.ceil(area.x + area.w)) - x;
    const h = Math.min(this.height, Math.ceil(area.y + area.h)) - y;
    if (w <= 0 || h <= 0) return;
    const g = this.g;
    g.save();
    g.beginPath();
    g.rect(x, y, w, h);
    g.clip();
    g.clearRect(x, y, w, h);
    if (this.still) g.drawImage(this.still, x, y, w, h, x, y, w, h);
    const regions = [...this.regions.values()].filter((r) => !(r.x >= x + w || r.y >= y + h || r.x + r.w <= x || r.y + r.h <= y));
    // A stable sort: the same level keeps the order of first painting.
    regions.sort((a, b) => a.level - b.level);
    for (const r of regions) {
      if (r.x >= x + w || r.y >= y + h || r.x + r.w <= x || r.y + r.h <= y) continue;
      // Each region draws only inside its own rectangle, whatever it leaves behind.
      g.save();
      g.beginPath();
      g.rect(r.x, r.y, r.w, r.h);
      g.clip();
      r.draw(g);
      g.restore();
    }
    g.restore();
  }

  /** Keeps the backdrop under the game's canvas (it moves when the page is resized) and shakes it with the camera. */
  update(camera: Phaser.Cameras.Scene2D.Camera): void {
    this.place();
    const shake = camera.shakeEffect as unknown as { isRunning: boolean; _offsetX: number; _offsetY: number };
    // The canvas's size on the page is read only while shaking: reading it makes the browser lay out the page.
    let t = '';
    if (shake.isRunning) {
      const k = this.game.canvas.clientWidth / this.width || 1;
      t = `translate(${(shake._offsetX * k).toFixed(1)}px, ${(shake._offsetY * k).toFixed(1)}px)`;
    }
    if (t !== this.shaken) {
      this.shaken = t;
      this.host.style.transform = t;
    }
  }

  destroy(): void {
    this.host.remove();
  }

  private place(): void {
    const c = this.game.canvas;
    const s = c.style;
    const key = `${s.width}|${s.height}|${s.marginLeft}|${s.marginTop}`;
    if (key === this.placed) return;
    this.placed = key;
    Object.assign(this.host.style, { left: `${c.offsetLeft}px`, top: `${c.offsetTop}px`, width: `${c.clientWidth}px`, height: `${c.clientHeight}px` });
  }
}

function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w && inner.y + inner.h <= outer.y + outer.h;
}
