/**
 * The floors of `npm run bench`: a bare Fastify server with no auth, no database and no schema.
 * `GET /menu-items` serves, from memory, the same menu page the API returns (JSON file at
 * BENCH_FIXTURE); `POST /orders` parses an order body and answers 201 with an order-sized JSON
 * (file at BENCH_ORDER_FIXTURE), so its CPU per request is the HTTP + JSON floor of an order.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const page = JSON.parse(readFileSync(process.env.BENCH_FIXTURE!, 'utf8')) as unknown;
const order = process.env.BENCH_ORDER_FIXTURE ? (JSON.parse(readFileSync(process.env.BENCH_ORDER_FIXTURE, 'utf8')) as unknown) : {};
const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.get('/menu-items', async () => page);
app.post('/orders', async (_request, reply) => reply.code(201).send(order));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3999) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
