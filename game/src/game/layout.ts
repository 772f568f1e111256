// Where things are on the canvas. Pure functions, so the positions a test clicks on are the
// positions the scene draws at.

export const WIDTH = 1100;
export const HEIGHT = 800;

/** The village square: villagers stand on an ellipse (wider than tall) around the well. */
export const SQUARE = { x: 385, y: 322, rx: 265, ry: 205 };

/** The key-value board, right of the square. */
export const BOARD = { x: 770, y: 60, width: 310, height: 260 };

/** The log table along the bottom: one row per villager, one column per log index. */
export const LOG_TABLE = { x: 20, y: 634, width: 1060, height: 160, nameWidth: 70, tile: 22, gap: 3 };

export interface Point {
  x: number;
  y: number;
}

/** n villagers on the square's ellipse, the first at the top, going clockwise. */
export function villagerPositions(n: number, square = SQUARE): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
    out.push({ x: Math.round(square.x + square.rx * Math.cos(a)), y: Math.round(square.y + square.ry * Math.sin(a)) });
  }
  return out;
}

/** How many log columns fit in the table. */
export function logColumns(table = LOG_TABLE): number {
  return Math.max(1, Math.floor((table.width - table.nameWidth) / (table.tile + table.gap)));
}

/** The window of log indexes shown: the newest `columns`, starting at 1 while the log is short. */
export function logWindow(maxIndex: number, columns: number): { first: number; last: number } {
  const last = Math.max(columns, maxIndex);
  return { first: last - columns + 1, last };
}

/** A point `t` (0..1) of the way from a to b, lifted into an arc so letters both ways don't collide. */
export function flightPoint(a: Point, b: Point, t: number, lift = 0.12): Point {
  const x = a.x + (b.x - a.x) * t;
  const y = a.y + (b.y - a.y) * t;
  // Offset perpendicular to the line, to the right of the direction of travel.
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const bulge = Math.sin(Math.PI * t) * len * lift;
  return { x: x + (-dy / len) * bulge, y: y + (dx / len) * bulge };
}
