/**
 * `npm run start:service -- <module>`: runs one module as its own service (strangler fig; README
 * "Extracting a module"). Same environment as `npm start`, plus `SERVICE_TOKEN` (required). Its
 * defaults differ so that it can run beside the monolith on one machine: PORT 3001, METRICS_PORT
 * 9465, and without DATABASE_URL an embedded database in `./.data-<module>`.
 */
import { randomBytes } from 'node:crypto';
import { buildService, EXTRACTABLE_MODULES, type ExtractableModule } from './service-app.ts';
import { EXIT_CONFIG, startServer } from './server.ts';

const name = process.argv[2];
if (!EXTRACTABLE_MODULES.includes(name as ExtractableModule)) {
  console.error(`usage: npm run start:service -- <module>   (modules that run as a service: ${EXTRACTABLE_MODULES.join(', ')})`);
  process.exit(EXIT_CONFIG);
}
const module = name as ExtractableModule;
if (!process.env.SERVICE_TOKEN) {
  console.error('SERVICE_TOKEN: required to run a module as a service (the secret shared with the monolith, at least 32 characters)');
  process.exit(EXIT_CONFIG);
}
// A service serves no staff routes and issues no tokens: a random JWT secret (the kernel needs
// one) rather than a "set JWT_SECRET" warning, or a refusal to start in production.
const env = { PORT: '3001', METRICS_PORT: '9465', PGLITE_DATA_DIR: `./.data-${module}`, JWT_SECRET: randomBytes(48).toString('base64url'), ...process.env };
startServer({
  name: `${module} service`,
  env,
  build: (config, options) => buildService(module, config, options),
});

