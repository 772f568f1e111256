// Colours of the village. A term has one colour everywhere it appears (shirts, log tiles,
// letters), so a glance tells which villagers and entries belong to the same term.

const TERM_COLOURS = [
  0xe6194b, // red
  0x3cb44b, // green
  0x4363d8, // blue
  0xf58231, // orange
  0x911eb4, // purple
  0x42d4f4, // cyan
  0xf032e6, // magenta
  0xbfef45, // lime
  0xfabed4, // pink
  0x469990, // teal
  0xdcbeff, // lavender
  0x9a6324, // brown
];

/** Term 0 (nothing yet) is grey; every later term cycles through twelve distinct colours. */
export function termColour(term: number): number {
  if (!Number.isFinite(term) || term <= 0) return 0x9e9e9e;
  return TERM_COLOURS[(Math.floor(term) - 1) % TERM_COLOURS.length]!;
}

export function cssColour(c: number): string {
  return `#${c.toString(16).padStart(6, '0')}`;
}

export const COLOURS = {
  background: 0x2b3a2e,
  grass: 0x3f6b3a,
  path: 0x8a7350,
  text: '#f4f1e8',
  dimText: '#b9b4a4',
  panel: 0x1d2620,
  panelLine: 0x5b6b55,
  ring: 0xfff3b0,
  ringBack: 0x000000,
  danger: '#ff6b6b',
  ok: '#8fe388',
  warn: '#ffd166',
  /** What a broken law involves (villagers' ring, log tiles' frame): white, which no term has. */
  law: 0xffffff,
};
