/**
 * `npm run asyncapi`: writes docs/asyncapi.json, the AsyncAPI 3.0 document of the domain events
 * that leave the process through the message broker (shared/broker.ts), as docs/openapi.json is
 * for the routes. Generated from the same sources the code runs on:
 * - which events: each module's `events.external` in its `defineModule` (modules/<m>/index.ts,
 *   read statically by scripts/module-declarations.ts);
 * - their shape: the event's type in the publishing module's gateway.ts (`DomainEvent<'Type',
 *   {...}>`), turned into JSON Schema by ts-json-schema-generator, doc comments included.
 * `--check` writes nothing and exits 1 when the committed document differs (CI runs it).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';
import { readModuleDeclarations } from './module-declarations.ts';
import { REPO_ROOT } from './repo-root.ts';

/** Where the document lives, relative to the repository root. */
export const ASYNCAPI_FILE = 'docs/asyncapi.json';

type JsonSchema = Record<string, unknown>;

/** JSON Schema of the event type `type` declared in `gatewayFile` (self-contained, no $refs). */
function eventSchema(root: string, gatewayFile: string, type: string): JsonSchema {
  const generator = createGenerator({ path: join(root, gatewayFile), tsconfig: join(root, 'tsconfig.json'), type, expose: 'none', topRef: false, skipTypeCheck: true, additionalProperties: true, jsDoc: 'extended' });
  const { $schema: _, ...schema } = generator.createSchema(type) as JsonSchema;
  return schema;
}

/**
 * The AsyncAPI document of every external event in the modules under `root`, serialised as the
 * committed file is (2-space JSON, trailing newline).
 * @throws Error when a module declares an external event that its gateway.ts does not declare.
 */
export function renderAsyncApi(root = REPO_ROOT): string {
  const folders = readdirSync(join(root, 'modules'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const module of readModuleDeclarations(root, folders)) {
    for (const type of module.external) {
      const gateway = `modules/${module.folder}/gateway.ts`;
      let payload: JsonSchema;
      try {
        payload = eventSchema(root, gateway, type);
      } catch (error) {
        throw new Error(`${module.file}: external event ${type} has no type ${type} in ${gateway} (${error instanceof Error ? error.message : String(error)})`);
      }
      messages[type] = {
        name: type,
        title: type,
        summary: `${type}, published by the ${module.folder} module.`,
        contentType: 'application/json',
        headers: {
          type: 'object',
          properties: { 'Nats-Msg-Id': { type: 'string', format: 'uuid', description: 'The event id (equal to `id` in the payload). JetStream drops a message whose id it stored within its duplicate window (2 minutes); consumers still de-duplicate by it (delivery is at least once).' } },
          required: ['Nats-Msg-Id'],
        },
        payload,
      };
      channels[type] = {
        address: `pos.events.${type}.{tenantId}`,
        title: `${type} events`,
        description: `Every ${type} event, per restaurant. The prefix \`pos.events\` is NATS_SUBJECT_PREFIX; subscribe to \`pos.events.${type}.*\` for all restaurants.`,
        parameters: { tenantId: { description: 'The restaurant (tenant) id, a UUID.' } },
        messages: { [type]: { $ref: `#/components/messages/${type}` } },
      };
      operations[`send${type}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${type}` },
        summary: `The API publishes ${type} from its outbox after the transaction that caused it committed.`,
        messages: [{ $ref: `#/channels/${type}/messages/${type}` }],
      };
    }
  }
  const document = {
    asyncapi: '3.0.0',
    info: {
      title: 'POS API domain events',
      version,
      description:
        'Domain events the POS API publishes to NATS JetStream when NATS_URL is set: the events each module declares as external (events.external). ' +
        'At least once, in commit order per publishing transaction; money in integer minor units of the event currency. Each message is one event envelope: id (UUIDv7), type, tenantId, occurredAt (ISO 8601 UTC), payload.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: { host: '127.0.0.1:4222', protocol: 'nats', description: 'NATS_URL; the events are stored in the JetStream stream NATS_STREAM (default POS_EVENTS, subjects pos.events.>).' },
    },
    channels,
    operations,
    components: { messages },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (import.meta.main) {
  const rendered = renderAsyncApi();
  const path = join(REPO_ROOT, ASYNCAPI_FILE);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    /* not written yet */
  }
  if (process.argv.includes('--check')) {
    if (current !== rendered) {
      console.error(`✖ asyncapi: ${ASYNCAPI_FILE} is out of date with the modules' external events; run npm run asyncapi and commit it.`);
      process.exit(1);
    }
    console.log(`✔ asyncapi: ${ASYNCAPI_FILE} matches the code.`);
  } else {
    writeFileSync(path, rendered);
    console.log(`wrote ${ASYNCAPI_FILE} (${Object.keys((JSON.parse(rendered) as { channels: object }).channels).length} external events)`);
  }
}
