import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './arch-cruise.ts';
import { declaredPluginDependencies, DOC_FILE, expectedDocument } from './arch-graph.ts';
import { copyRepo, type RepoCopy } from './repo-copy.ts';

const SLOW = 120_000;

describe('the module graph in docs/architecture.md', () => {
  it('is up to date with the code (run `npm run arch:graph` and commit when this fails)', { timeout: SLOW }, async () => {
    const { current, expected } = await expectedDocument(REPO_ROOT);
    expect(current, `${DOC_FILE} is missing`).toBeDefined();
    expect(current, `${DOC_FILE} is out of date: run npm run arch:graph and commit it`).toBe(expected);
  });

  it('reads the plugin dependencies a module declares to fastify-plugin', () => {
    const index = "export default fp(async (app) => {}, { name: 'orders', dependencies: ['database', 'auth', \"payments\"] });";
    expect(declaredPluginDependencies(index)).toEqual(['database', 'auth', 'payments']);
  });
});

describe('npm run arch:graph', () => {
  let repo: RepoCopy;
  beforeAll(() => {
    repo = copyRepo({ prefix: 'arch-graph-' });
  });
  afterAll(() => repo?.dispose());

  it('--check fails when a new gateway import is not drawn, and passes once the graph is redrawn', { timeout: SLOW }, async () => {
    // Start from a drawn graph, whatever the state of the committed picture.
    expect((await repo.run('node', ['scripts/arch-graph.ts'])).code).toBe(0);
    expect((await repo.run('node', ['scripts/arch-graph.ts', '--check'])).code).toBe(0);
    repo.write('modules/payments/tenant-currency.ts', "import type { AuthGateway } from '../auth/gateway.ts';\nexport type Tenants = AuthGateway;\n");

    const stale = await repo.run('node', ['scripts/arch-graph.ts', '--check']);
    expect(stale.code, stale.output).toBe(1);
    expect(stale.stderr).toContain('out of date');
    expect(stale.stderr).toContain('npm run arch:graph');

    const written = await repo.run('node', ['scripts/arch-graph.ts']);
    expect(written.code, written.output).toBe(0);
    const doc = repo.read(DOC_FILE);
    expect(doc).toMatch(/m_payments -->\|gateway import\| m_auth/);
    expect(doc).toContain('```mermaid');
    expect((await repo.run('node', ['scripts/arch-graph.ts', '--check'])).code).toBe(0);
  });

  it('keeps the prose around the generated section', { timeout: SLOW }, async () => {
    repo.append(DOC_FILE, '\n## Notes kept by hand\n');
    repo.write('modules/payments/tenant-currency.ts', "export type Nothing = never;\n");
    expect((await repo.run('node', ['scripts/arch-graph.ts'])).code).toBe(0);
    const doc = repo.read(DOC_FILE);
    expect(doc).toContain('## Notes kept by hand');
    expect(doc).not.toMatch(/m_payments -->\|gateway import\| m_auth/);
  });
});
