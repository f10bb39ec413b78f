import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/test-app.ts';

const run = promisify(execFile);
const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The bash block under "## Quick start with curl", as a newcomer would paste it. */
function quickStart(): string {
  const section = README.slice(README.indexOf('## Quick start with curl'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md has no bash block under "## Quick start with curl"');
  return block;
}

describe('the README quick start, pasted into a shell', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('works, and works again when run a second time (a second restaurant, its own menu and stock)', async () => {
    const script = quickStart().replace('B=http://127.0.0.1:3000/api/v1', `B=${t.api.baseUrl}/api/v1`);
    expect(script).toContain(`B=${t.api.baseUrl}`);
    for (const round of [1, 2]) {
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { timeout: 60_000 });
      // Step 4 prints the level, step 5 the order, step 6 the level after the sale.
      const answers = stdout.trim().split(/\n|(?<=\})(?=\{)/).map((line) => JSON.parse(line));
      const order = answers.find((a) => a.status === 'paid');
      expect(order, `round ${round}: ${stdout}`).toMatchObject({ subtotal: 2500, tax: 206, total: 2706, payment: { change: 294 } });
      expect(answers.at(-1), `round ${round}`).toMatchObject({ onHand: 8 });
    }
    const tenants = await t.api.post('/api/v1/auth/login', { tenant: 'luigis-pizza-2', email: 'luigi@example.com', password: 'correct horse battery' });
    expect(tenants.status).toBe(200);
  }, 90_000);
});
