// Runs every scenario in test/raft/testdata and compares the printed story with the file.
// After a deliberate change in behaviour, regenerate with REWRITE=1 npx vitest run test/raft/scenario.test.ts
// and read the diff.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Scenario, formatScenario, parseScenario } from './scenario.ts';

const dir = join(import.meta.dirname, 'testdata');
const rewrite = process.env.REWRITE === '1';

describe('scenarios (test/raft/testdata)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
  it('there are scenarios to run', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });
  for (const f of files) {
    it(f.replace(/\.txt$/, ''), () => {
      const path = join(dir, f);
      const blocks = parseScenario(readFileSync(path, 'utf8'));
      const s = new Scenario();
      const actual = blocks.map((b) => ({ ...b, expected: b.command ? s.run(b.command) : [] }));
      if (rewrite) writeFileSync(path, formatScenario(actual));
      else expect(formatScenario(actual)).toBe(formatScenario(blocks));
    });
  }
});
