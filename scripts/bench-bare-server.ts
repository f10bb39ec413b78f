/**
 * The baseline for menu reads in `npm run bench`: a bare Fastify route serving, from memory, the
 * same 20 menu items the API returns (JSON file at BENCH_FIXTURE). No auth, no database, no schema.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const page = JSON.parse(readFileSync(process.env.BENCH_FIXTURE!, 'utf8')) as unknown;
const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.get('/menu-items', async () => page);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3999) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
