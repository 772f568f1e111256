// What the relay refused, counted, and said in its log at most once per 5 s per kind, so a
// peer or page that keeps sending garbage cannot flood the log.
export const COMPLAINT_SPACING_MS = 5000;

export class Complaints {
  /** Frames refused as malformed or out of place, on every path. */
  rejectedFrames = 0;
  /** Connections refused (limits, authentication). */
  refusedConnections = 0;
  private readonly last = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly log: (line: string) => void,
  ) {}

  /** Logs line unless a line of the same key was logged in the last 5 s. */
  complain(key: string, line: string): void {
    const t = this.now();
    if ((this.last.get(key) ?? 0) + COMPLAINT_SPACING_MS > t) return;
    this.last.set(key, t);
    this.log(line);
  }

  /** A refused frame: counted, and logged as complain() does. */
  reject(key: string, line: string): void {
    this.rejectedFrames++;
    this.complain(key, line);
  }
}
