// What does not move, drawn once and left to the browser: a 2D canvas right behind the game's
// (transparent) canvas, same size and place. Phaser redraws every visible object on every frame,
// and with software rendering every pixel a frame covers costs (a full-screen picture alone takes
// an empty scene from ~50 to ~5 frames per second on a busy two-core machine), while the browser
// composites a canvas that did not change for almost nothing. So the ground, the legend and the
// frames of the board and the log table are drawn with Phaser once, copied here, and destroyed;
// views may paint other slowly changing parts here with the 2D API (`paint`).
import Phaser from 'phaser';

export class Backdrop {
  /** Holds the canvas in a closed shadow root: the page keeps exactly one canvas to find, the game's. */
  private readonly host: HTMLDivElement;
  private readonly g: CanvasRenderingContext2D;
  /** The still picture, to repaint a region from. */
  private still: CanvasImageSource | null = null;
  /** The last drawing of every painted region, drawn again over the still picture when it arrives. */
  private readonly regions = new Map<string, { x: number; y: number; w: number; h: number; draw: (g: CanvasRenderingContext2D) => void }>();
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
        this.g.drawImage(img, 0, 0);
        for (const r of this.regions.values()) this.paint(r.x, r.y, r.w, r.h, r.draw);
        for (const o of objects) o.destroy();
        scene.textures.remove(key);
      };
      if (img.complete) done();
      else img.onload = done;
    });
  }

  /** Repaints a region: the still picture there, then `draw` on top (in canvas pixels). */
  paint(x: number, y: number, w: number, h: number, draw: (g: CanvasRenderingContext2D) => void): void {
    this.regions.set(`${x},${y},${w},${h}`, { x, y, w, h, draw });
    const g = this.g;
    g.save();
    g.beginPath();
    g.rect(x, y, w, h);
    g.clip();
    g.clearRect(x, y, w, h);
    if (this.still) g.drawImage(this.still, x, y, w, h, x, y, w, h);
    draw(g);
    g.restore();
  }

  /** Keeps the backdrop under the game's canvas (it moves when the page is resized) and shakes it with the camera. */
  update(camera: Phaser.Cameras.Scene2D.Camera): void {
    this.place();
    const shake = camera.shakeEffect as unknown as { isRunning: boolean; _offsetX: number; _offsetY: number };
    const k = this.game.canvas.clientWidth / this.width || 1;
    const t = shake.isRunning ? `translate(${(shake._offsetX * k).toFixed(1)}px, ${(shake._offsetY * k).toFixed(1)}px)` : '';
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
