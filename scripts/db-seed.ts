/**
 * `npm run db:seed`: a demo restaurant to click around in, made through the API itself (the same
 * validation, money rules, outbox and reports as real traffic): the tenant "Demo Bistro" with an
 * owner, a manager and a cashier, a menu of 8 items, stock for the bottled ones, 12 paid orders
 * (cash and card) and one cancelled order. Prints how to log in. Runs the migrations first.
 *
 * Uses the configured database (DATABASE_URL, else the embedded PGlite in PGLITE_DATA_DIR, the
 * one `npm start` uses). Run it again and it only prints the logins: the demo restaurant exists
 * already (found by logging in as its owner). Exit codes: 0 done, 1 a step failed (the answer is
 * printed), 78 invalid environment.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { ConfigError, loadConfig, type AppConfig } from '../shared/config.ts';

/** The demo logins, printed at the end. */
export const DEMO = {
  restaurantName: 'Demo Bistro',
  slug: 'demo-bistro',
  password: 'demo bistro password',
  owner: 'owner@demo-bistro.example',
  manager: 'manager@demo-bistro.example',
  cashier: 'cashier@demo-bistro.example',
} as const;

const MENU = [
  { name: 'Margherita', sku: 'PIZ-MAR', price: 1250, category: 'pizza' },
  { name: 'Diavola', sku: 'PIZ-DIA', price: 1450, category: 'pizza' },
  { name: 'Quattro Formaggi', sku: 'PIZ-4FO', price: 1550, category: 'pizza' },
  { name: 'Caesar Salad', sku: 'SAL-CAE', price: 950, category: 'salad' },
  { name: 'Tiramisu', sku: 'DES-TIR', price: 650, category: 'dessert' },
  { name: 'Espresso', sku: 'BEV-ESP', price: 250, category: 'drinks' },
  { name: 'Sparkling Water 0.5 l', sku: 'BEV-WAT', price: 300, category: 'drinks', stock: 48 },
  { name: 'Lemonade 0.33 l', sku: 'BEV-LEM', price: 400, category: 'drinks', stock: 24 },
] as const;

/** Seeds `app` (see the file's docstring); returns what it did, for the caller to print. */
export async function seedDemo(app: FastifyInstance, log: (line: string) => void = () => {}): Promise<{ created: boolean; orders: number }> {
  const call = async <T = any>(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, token?: string, expect = 200): Promise<T> => {
    const res = await app.inject({ method, url: `/api/v1${url}`, payload: payload as object, headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (res.statusCode !== expect) throw new Error(`${method} ${url} answered ${res.statusCode}, expected ${expect}: ${res.body}`);
    return res.json() as T;
  };
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { tenant: DEMO.slug, email: DEMO.owner, password: DEMO.password } });
  if (login.statusCode === 200) return { created: false, orders: 0 };

  const signup = await call<{ tenant: { slug: string }; accessToken: string }>(
    'POST',
    '/auth/signup',
    { restaurantName: DEMO.restaurantName, currency: 'EUR', email: DEMO.owner, password: DEMO.password, taxRateBps: 1000, timeZone: 'Europe/Rome' },
    undefined,
    201,
  );
  if (signup.tenant.slug !== DEMO.slug) throw new Error(`the demo restaurant got the slug '${signup.tenant.slug}', not '${DEMO.slug}': another restaurant took it`);
  const owner = signup.accessToken;
  log(`restaurant ${DEMO.restaurantName} (${DEMO.slug}) and its owner`);
  await call('POST', '/auth/users', { email: DEMO.manager, password: DEMO.password, role: 'manager' }, owner, 201);
  await call('POST', '/auth/users', { email: DEMO.cashier, password: DEMO.password, role: 'cashier' }, owner, 201);
  log('staff: a manager and a cashier');

  const items: Array<{ id: string; price: number }> = [];
  for (const { stock, ...item } of MENU.map((m) => ({ stock: undefined as number | undefined, ...m }))) {
    const created = await call<{ id: string; price: number }>('POST', '/restaurant/menu-items', item, owner, 201);
    items.push(created);
    if (stock !== undefined) await call('PUT', `/inventory/items/${created.id}`, { onHand: stock, lowStockThreshold: 6 }, owner);
  }
  log(`menu: ${items.length} items, stock for the bottled drinks`);

  const cashier = (await call<{ accessToken: string }>('POST', '/auth/login', { tenant: DEMO.slug, email: DEMO.cashier, password: DEMO.password })).accessToken;
  let placed = 0;
  let lastOrderId = '';
  for (let n = 0; n < 12; n++) {
    // A deterministic mix: 1 to 3 lines, quantities 1 to 3, every third order by card.
    const lines = Array.from({ length: 1 + (n % 3) }, (_, i) => ({ menuItemId: items[(n * 3 + i * 5) % items.length]!.id, quantity: 1 + ((n + i) % 3) }));
    const byCard = n % 3 === 2;
    const order = await call<{ id: string; total: number }>(
      'POST',
      '/orders',
      { items: lines, payment: byCard ? { method: 'card', token: 'tok_visa' } : { method: 'cash', tendered: 100_000 }, note: n === 0 ? 'table 4' : undefined },
      cashier,
      201,
    );
    lastOrderId = order.id;
    placed++;
  }
  await call('POST', `/orders/${lastOrderId}/cancel`, undefined, owner);
  log(`orders: ${placed} paid (cash and card), the last one cancelled and refunded`);
  return { created: true, orders: placed };
}

async function main() {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const where = config.database.kind === 'pglite' ? `the embedded PGlite in ${config.database.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  console.log(`db:seed: seeding a demo restaurant into ${where}…`);
  const app = await buildApp({ ...config, logLevel: 'warn' });
  try {
    const { created } = await seedDemo(app, (line) => console.log(`  ✓ ${line}`));
    console.log(created ? 'db:seed: done.' : `db:seed: the demo restaurant exists already; nothing changed.`);
    console.log(`
Log in (npm start, then POST /api/v1/auth/login) with tenant "${DEMO.slug}" and password "${DEMO.password}" as:
  owner    ${DEMO.owner}
  manager  ${DEMO.manager}
  cashier  ${DEMO.cashier}
e.g.  curl -s -X POST http://127.0.0.1:${config.port}/api/v1/auth/login -H 'content-type: application/json' \\
        -d '{"tenant":"${DEMO.slug}","email":"${DEMO.owner}","password":"${DEMO.password}"}'`);
  } catch (error) {
    console.error(`db:seed: failed: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    await app.close();
  }
}

if (import.meta.main) await main();
