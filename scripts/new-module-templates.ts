/**
 * The files `npm run new:module` writes: a module in exactly the shape of the real ones (see
 * modules/restaurant and modules/reporting): `defineModule` with declared `uses` and events, a
 * typed gateway, routes guarded by `config.roles` with zod schemas and operationIds, views derived
 * from their zod schemas, its own PostgreSQL schema, a module test booting it alone
 * (test/support/module-test.ts) and an HTTP test on the whole app.
 */

/** The spellings of a module name the templates need. */
export interface ModuleNames {
  /** As given and as the folder, URL segment and module name: `gift-cards`. */
  kebab: string;
  /** Variables: `giftCards`. */
  camel: string;
  /** Types: `GiftCards`. */
  pascal: string;
  /** The PostgreSQL schema: `gift_cards`. */
  snake: string;
}

/** The spellings of kebab-case `kebab`. */
export function moduleNames(kebab: string): ModuleNames {
  const words = kebab.split('-');
  const pascal = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return { kebab, camel: pascal.charAt(0).toLowerCase() + pascal.slice(1), pascal, snake: words.join('_') };
}

/** A module the new one uses (`--uses`): its names and the gateway interface its gateway.ts exports. */
export interface UsedModule {
  names: ModuleNames;
  /** e.g. `AuthGateway`. */
  gatewayInterface: string;
}

/** An event the new module handles (`--subscribe`): its type and the module that publishes it. */
export interface SubscribedEvent {
  /** e.g. `OrderPaid` (also the name of its type in the publisher's gateway.ts). */
  type: string;
  /** e.g. `orders`. */
  publisher: string;
}

/** What the new module is made of besides its name. */
export interface ModuleShape {
  uses: readonly UsedModule[];
  subscribes: readonly SubscribedEvent[];
}

/** A file of the new module: where it goes, what it is for, and its text. */
export interface PlannedFile {
  path: string;
  purpose: string;
  content: string;
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
/** A property key as written in an object literal or interface: `auth`, `'gift-cards'`. */
export const propertyKey = (name: string) => (/^[a-z][a-zA-Z0-9]*$/.test(name) ? name : `'${name}'`);
const depAccess = (name: string) => (/^[a-z][a-zA-Z0-9]*$/.test(name) ? `deps.${name}` : `deps['${name}']`);
const quotedList = (items: readonly string[]) => items.map((i) => `'${i}'`).join(', ');
const sortedImports = (lines: string[]) => [...new Set(lines)].sort((a, b) => importPath(a).localeCompare(importPath(b)));
const importPath = (line: string) => {
  const path = /from '([^']+)'/.exec(line)![1]!;
  // Other modules first, then the kernel, then the module's own files (as in the real modules).
  return `${path.startsWith('../../') ? 1 : path.startsWith('../') ? 0 : 2}${path}`;
};
const eventImports = (shape: ModuleShape) => {
  const byPublisher = new Map<string, string[]>();
  for (const e of shape.subscribes) byPublisher.set(e.publisher, [...(byPublisher.get(e.publisher) ?? []), e.type]);
  return [...byPublisher].map(([publisher, types]) => `import type { ${[...types].sort().join(', ')} } from '../${publisher}/gateway.ts';`);
};

/** The files of the new module `n` with `shape`. */
export function moduleFiles(n: ModuleNames, shape: ModuleShape): PlannedFile[] {
  const base = `/api/v1/${n.kebab}`;
  const file = (name: string, purpose: string, content: string): PlannedFile => ({ path: `modules/${n.kebab}/${name}`, purpose, content });
  const hasDeps = shape.uses.length > 0;
  const hasEvents = shape.subscribes.length > 0;
  const depsType = `${n.pascal}Dependencies`;
  const handlers = `${n.camel}Handlers`;
  const usesPhrase = hasDeps ? ` Uses ${shape.uses.map((u) => u.names.kebab).join(', ')} through their gateways.` : '';
  const eventsPhrase = hasEvents ? ` Handles ${shape.subscribes.map((e) => `${e.type} (from ${e.publisher})`).join(', ')}.` : '';

  // ---------------------------------------------------------------------------------- index.ts
  const consumes = new Map<string, string[]>();
  for (const e of shape.subscribes) consumes.set(e.publisher, [...(consumes.get(e.publisher) ?? []), e.type]);
  const indexImports = sortedImports([
    ...eventImports(shape),
    "import { defineModule } from '../../shared/module.ts';",
    `import type { ${n.pascal}Gateway } from './gateway.ts';`,
    `import { ${n.camel}Routes } from './routes.ts';`,
    `import { create${n.pascal}Service${hasEvents ? `, ${handlers}` : ''}${hasDeps ? `, type ${depsType}` : ''} } from './service.ts';`,
  ]);
  const declaration = [
    `  name: '${n.kebab}',`,
    `  uses: [${quotedList(shape.uses.map((u) => u.names.kebab))}],`,
    ...(hasEvents ? [`  events: {`, `    consumes: {`, ...[...consumes].map(([p, types]) => `      ${propertyKey(p)}: [${quotedList(types)}],`), `    },`, `  },`] : []),
  ];
  const context = [hasDeps ? 'deps' : '', hasEvents ? 'events' : ''].filter(Boolean);
  const index = `${indexImports.join('\n')}

/**
 * The ${n.kebab} module (TODO: say in one sentence what it owns; arch:graph shows this sentence on
 * its canvas).${usesPhrase}${eventsPhrase} Serves its routes under \`${base}\` and returns its
 * {@link ${n.pascal}Gateway}.
 */
export default defineModule<${hasDeps ? depsType : 'Record<never, never>'}, ${n.pascal}Gateway>({
${declaration.join('\n')}
  async setup(scope${context.length ? `, { ${context.join(', ')} }` : ''}) {
${shape.subscribes.map((e) => `    events.subscribe<${e.type}>('${e.type}', ${handlers}.${lowerFirst(e.type)});\n`).join('')}    const service = create${n.pascal}Service(scope${hasDeps ? ', deps' : ''});
    await scope.register(${n.camel}Routes, { prefix: '/${n.kebab}', service });
    const gateway: ${n.pascal}Gateway = { countItems: service.countItems };
    return gateway;
  },
});
`;

  // -------------------------------------------------------------------------------- gateway.ts
  const gateway = `/**
 * Public contract of the ${n.kebab} module (bounded context: TODO say what it owns).
 * The only file of this module that other modules may import.
 */
import type { UnitOfWork } from '../../shared/unit-of-work.ts';

/** Calls other modules may make into ${n.kebab}. They join the caller's unit of work. */
export interface ${n.pascal}Gateway {
  /** How many items the unit of work's tenant has (an example call: replace it). */
  countItems(uow: UnitOfWork): Promise<number>;
}
`;

  // ---------------------------------------------------------------------------------- views.ts
  const views = `import { z } from 'zod';
import { Timestamp } from '../../shared/http-schemas.ts';

/** Response shapes of the ${n.kebab} module: the zod schema serialises and documents, the type is derived from it. */
/** An item as the API shows it (the example resource of this module: replace it). */
export const ${n.pascal}Item = z
  .object({
    id: z.uuid(),
    name: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: '${n.pascal}Item' });
export type ${n.pascal}ItemView = z.output<typeof ${n.pascal}Item>;
`;

  // --------------------------------------------------------------------------------- routes.ts
  const routes = `import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, jsonResponse, PageQuery, pageOf, Text } from '../../shared/http-schemas.ts';
import type { ${n.pascal}Service } from './service.ts';
import { ${n.pascal}Item } from './views.ts';

const ItemsPage = pageOf(${n.pascal}Item);
const ITEM_EXAMPLE = { id: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40', name: 'First item', createdAt: '2026-11-25T12:05:00.000Z' };

/**
 * HTTP routes of the ${n.kebab} module, mounted at \`${base}\`. \`config.roles\` guards each route
 * (401 without a valid token, 403 for other roles) and puts it in the permission matrix and /docs.
 */
export const ${n.camel}Routes: FastifyPluginAsyncZod<{ service: ${n.pascal}Service }> = async (app, { service }) => {
  app.get(
    '/items',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'list${n.pascal}Items',
        tags: ['${n.kebab}'],
        summary: 'List the items of the restaurant, oldest first',
        querystring: PageQuery,
        response: { 200: jsonResponse(ItemsPage, { description: 'A page of items' }) },
      },
    },
    async (request) => service.list(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor) }),
  );

  app.post(
    '/items',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'create${n.pascal}Item',
        tags: ['${n.kebab}'],
        summary: 'Add an item',
        // Bodies are strict (an unknown field is a 400 naming it); request strings are Text (no NUL).
        body: z.strictObject({ name: Text.trim().min(1).max(200) }).meta({ examples: [{ name: 'First item' }] }),
        response: { 201: jsonResponse(${n.pascal}Item, { description: 'The new item', examples: { first: { summary: 'An item', value: ITEM_EXAMPLE } } }) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body)),
  );
};
`;

  // -------------------------------------------------------------------------------- service.ts
  const serviceImports = sortedImports([
    "import type { FastifyInstance } from 'fastify';",
    ...shape.uses.map((u) => `import type { ${u.gatewayInterface} } from '../${u.names.kebab}/gateway.ts';`),
    ...eventImports(shape),
    "import type { Principal } from '../../shared/auth-guard.ts';",
    ...(hasEvents ? ["import type { EventHandler } from '../../shared/event-bus.ts';"] : []),
    "import { toPage } from '../../shared/http-schemas.ts';",
    "import { newId } from '../../shared/ids.ts';",
    "import type { UnitOfWork } from '../../shared/unit-of-work.ts';",
    `import { ${n.camel}Repository as repo, type ItemRow } from './repository.ts';`,
    `import type { ${n.pascal}ItemView } from './views.ts';`,
  ]);
  const depsInterface = hasDeps
    ? `
/** The gateways the ${n.kebab} module uses (its declared \`uses\`). */
export interface ${depsType} {
${shape.uses.map((u) => `  ${propertyKey(u.names.kebab)}: ${u.gatewayInterface};`).join('\n')}
}
`
    : '';
  const handlerBlock = hasEvents
    ? `
/**
 * Event handlers of the ${n.kebab} module. Each runs in its own unit of work in the event's tenant,
 * at least once and effectively once (the kernel's inbox drops redeliveries), so its writes and
 * the inbox row commit together.
 */
export const ${handlers} = {
${shape.subscribes
  .map(
    (e) => `  /** An example reaction to ${e.type} (from ${e.publisher}): records it as an item. Replace it with the module's own. */
  ${lowerFirst(e.type)}: (async (uow, event) => {
    await repo.insert(uow.tx, { tenantId: uow.tenantId, id: newId(), name: \`\${event.type} \${event.id}\` });
  }) satisfies EventHandler<${e.type}>,`,
  )
  .join('\n')}
};
`
    : '';
  const service = `${serviceImports.join('\n')}

const toItemView = (r: ItemRow): ${n.pascal}ItemView => ({ id: r.id, name: r.name, createdAt: r.createdAt.toISOString() });
${depsInterface}${handlerBlock}
/** Use cases of the ${n.kebab} module, each in a unit of work of the caller's tenant. */
export function create${n.pascal}Service(app: FastifyInstance${hasDeps ? `, deps: ${depsType}` : ''}) {
${
  hasDeps
    ? `  // Call the gateways it uses inside a unit of work, e.g. \`await ${depAccess(shape.uses[0]!.names.kebab)}.<method>(uow, …)\`.
  // Remove this line once a use case does.
  void deps;
`
    : ''
}  return {
    /** Gateway: see \`${n.pascal}Gateway.countItems\`. */
    async countItems(uow: UnitOfWork): Promise<number> {
      return repo.count(uow.tx, uow.tenantId);
    },

    create(principal: Principal, input: { name: string }): Promise<${n.pascal}ItemView> {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => toItemView(await repo.insert(tx, { tenantId, id: newId(), name: input.name })));
    },

    /** A page of items in id (= creation) order, after \`afterId\`. */
    list(principal: Principal, opts: { limit: number; afterId?: string | undefined }) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toItemView), opts.limit);
      });
    },
  };
}

export type ${n.pascal}Service = ReturnType<typeof create${n.pascal}Service>;
`;

  // ----------------------------------------------------------------------------- repository.ts
  const repository = `import { and, asc, count, eq, gt } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { items } from './schema.ts';

export type ItemRow = typeof items.$inferSelect;

/** Data access of the ${n.kebab} module; every function takes the transaction it runs in. */
export const ${n.camel}Repository = {
  async insert(tx: Transaction, row: typeof items.$inferInsert): Promise<ItemRow> {
    const [created] = await tx.insert(items).values(row).returning();
    return created!;
  },

  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string | undefined }): Promise<ItemRow[]> {
    return tx
      .select()
      .from(items)
      .where(and(eq(items.tenantId, tenantId), opts.afterId ? gt(items.id, opts.afterId) : undefined))
      .orderBy(asc(items.id))
      .limit(opts.limit);
  },

  async count(tx: Transaction, tenantId: string): Promise<number> {
    const [row] = await tx.select({ n: count() }).from(items).where(eq(items.tenantId, tenantId));
    return row?.n ?? 0;
  },
};
`;

  // --------------------------------------------------------------------------------- schema.ts
  const schema = `import { pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** The ${n.kebab} module's own PostgreSQL schema: no other module reads or writes it. */
export const ${n.camel}Schema = pgSchema('${n.snake}');

/**
 * An example table (replace it with the module's own): every row belongs to one tenant, and the
 * migration's \`SELECT kernel.apply_tenant_isolation()\` gives it row-level security.
 */
export const items = ${n.camel}Schema.table(
  'items',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'items_pk', columns: [t.tenantId, t.id] })],
);
`;

  // --------------------------------------------------------------------- <name>.module.test.ts
  const moduleTestImports = sortedImports([
    "import { afterAll, beforeAll, describe, expect, it } from 'vitest';",
    ...shape.uses.map((u) => `import type { ${u.gatewayInterface} } from '../${u.names.kebab}/gateway.ts';`),
    ...eventImports(shape),
    "import { expectProblem } from '../../test/support/fixtures.ts';",
    `import { bootModule${hasDeps ? ', stubGateway' : ''}${hasEvents ? ', testEvent' : ''}, type ModuleTest } from '../../test/support/module-test.ts';`,
    `import type { ${n.pascal}Gateway } from './gateway.ts';`,
    `import ${n.camel}Module from './index.ts';`,
  ]);
  const stubs = shape.uses.map((u) => `${propertyKey(u.names.kebab)}: stubGateway<${u.gatewayInterface}>('${u.names.kebab}')`);
  const eventTests = shape.subscribes
    .map(
      (e) => `
  it('handles ${e.type} (as ${e.publisher} publishes it) in the event\\'s tenant', async () => {
    const tenant = t.tenant();
    // The example handler reads no payload; give a realistic one once yours does.
    const event = testEvent<${e.type}>(tenant.id, '${e.type}', {} as ${e.type}['payload']);
    await t.scenario.publish(event).andWaitUntilHandled();
    expect(await t.app.runInTenant(tenant.id, (uow) => t.gateway.countItems(uow))).toBe(1);
    expect((await t.api.get(ITEMS, { token: tenant.token })).body.items).toEqual([expect.objectContaining({ name: \`${e.type} \${event.id}\` })]);
  });`,
    )
    .join('\n');
  const moduleTest = `${moduleTestImports.join('\n')}

/**
 * The ${n.kebab} module alone on the shared kernel (test/support/module-test.ts)${
    hasDeps ? `, with stubs of the gateways it uses (a stub throws on any call it was not given: add what your use cases call)` : ''
  }. Run it with \`npm run test:module -- ${n.kebab}\`.
 */
let t: ModuleTest<${n.pascal}Gateway>;
beforeAll(async () => {
  t = await bootModule(${n.camel}Module${hasDeps ? `, { deps: { ${stubs.join(', ')} } }` : ''});
});
afterAll(() => t?.close());

const ITEMS = '${base}/items';

describe('${n.kebab} module alone', () => {
  it('adds items to the caller\\'s restaurant only, lists them and counts them through its gateway', async () => {
    const tenant = t.tenant();
    const created = await t.api.post(ITEMS, { name: 'First item' }, { token: tenant.token });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'First item' });
    expect((await t.api.get(ITEMS, { token: tenant.token })).body).toEqual({ items: [created.body], nextCursor: null });
    expect(await t.app.runInTenant(tenant.id, (uow) => t.gateway.countItems(uow))).toBe(1);

    const other = t.tenant();
    expect((await t.api.get(ITEMS, { token: other.token })).body.items).toEqual([]);
    expect(await t.app.runInTenant(other.id, (uow) => t.gateway.countItems(uow))).toBe(0);
  });

  it('lets cashiers read and only owners and managers add', async () => {
    const tenant = t.tenant();
    const cashier = tenant.tokenFor({ role: 'cashier' });
    expectProblem(await t.api.post(ITEMS, { name: 'Nope' }, { token: cashier }), 403);
    expect((await t.api.post(ITEMS, { name: 'Yes' }, { token: tenant.tokenFor({ role: 'manager' }) })).status).toBe(201);
    expect((await t.api.get(ITEMS, { token: cashier })).body.items).toHaveLength(1);
  });

  it('refuses bad input with a 400 problem and writes nothing', async () => {
    const tenant = t.tenant();
    for (const body of [{}, { name: '' }, { name: 'a\\u0000b' }, { name: 'x', extra: 1 }, { name: 'x'.repeat(201) }]) {
      expectProblem(await t.api.post(ITEMS, body, { token: tenant.token }), 400);
    }
    expect(await t.app.runInTenant(tenant.id, (uow) => t.gateway.countItems(uow))).toBe(0);
  });
${eventTests}
});
`;

  // ---------------------------------------------------------------------------- <name>.test.ts
  const httpTest = `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signup } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

/** The ${n.kebab} module in the whole app, over HTTP: real signup, tokens and tenants. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const ITEMS = '${base}/items';

describe('${n.kebab} module in the app', () => {
  it('lists the items a restaurant added, and only that restaurant\\'s', async () => {
    const owner = await signup(t.api);
    const other = await signup(t.api);
    const created = await t.api.post(ITEMS, { name: 'First item' }, { token: owner.token });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await t.api.get(ITEMS, { token: owner.token })).body).toEqual({ items: [created.body], nextCursor: null });
    expect((await t.api.get(ITEMS, { token: other.token })).body.items).toEqual([]);
  });

  it('refuses a request without a token with a 401 problem', async () => {
    expectProblem(await t.api.get(ITEMS), 401);
  });

  it('documents its routes in /docs/json, with roles', async () => {
    const doc = (await t.api.get('/docs/json')).body;
    expect(doc.paths[ITEMS]?.get?.operationId).toBe('list${n.pascal}Items');
    expect(doc.paths[ITEMS]?.post?.['x-roles']).toEqual(['owner', 'manager']);
  });
});
`;

  return [
    file('index.ts', `the module's declaration (defineModule: name, uses, events) and setup; serves ${base}`, index),
    file('gateway.ts', 'its public contract: the only file other modules may import', gateway),
    file('routes.ts', `example routes GET and POST ${base}/items (config.roles, zod schemas, operationIds)`, routes),
    file('views.ts', 'response shapes: zod schemas, with the view types derived from them', views),
    file('service.ts', `its use cases, each in a tenant-scoped unit of work${hasEvents ? ', and its event handlers' : ''}`, service),
    file('repository.ts', 'data access: every function takes the transaction it runs in', repository),
    file('schema.ts', `its own PostgreSQL schema "${n.snake}" with an example table`, schema),
    file(`${n.kebab}.module.test.ts`, `the module booted alone${hasDeps ? ' with stubbed dependencies' : ''}${hasEvents ? ', events published into it' : ''}`, moduleTest),
    file(`${n.kebab}.test.ts`, 'the module in the whole app over HTTP', httpTest),
  ];
}
