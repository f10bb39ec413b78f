/**
 * Example consumer of the external domain events (shared/broker.ts), in a process of its own: reads
 * them from the NATS JetStream stream and prints one JSON line per event on stdout
 * (`{ seq, subject, msgId, event }`), acknowledging each.
 *
 *   npm run events:consume                                   # every external event, from the start
 *   npm run events:consume -- --subject 'pos.events.OrderPaid.>' --max 10
 *   npm run events:consume -- --durable reporting-bi         # resumes where that consumer left off
 *
 * Options: `--subject` (a NATS subject filter, default `<prefix>.>`), `--durable <name>` (a durable
 * consumer that remembers its position; without it an ordered consumer reads from the first
 * message), `--max <n>` (exit after n events), `--timeout-ms <n>` (exit with code 1 when no event
 * arrives for that long). Environment: NATS_URL (default nats://127.0.0.1:4222), NATS_STREAM,
 * NATS_SUBJECT_PREFIX, as for the API.
 *
 * A consumer must tolerate redelivery (JetStream delivers at least once): the event id (`msgId`,
 * also `event.id`) identifies an event; keep the ids handled, as the API's inbox does.
 */
import { AckPolicy, connect, JSONCodec } from 'nats';
import { parseArgs } from 'node:util';
import { loadConfig } from '../shared/config.ts';
import type { DomainEvent } from '../shared/event-bus.ts';

const { values: args } = parseArgs({
  options: {
    subject: { type: 'string' },
    durable: { type: 'string' },
    max: { type: 'string' },
    'timeout-ms': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('usage: npm run events:consume [-- --subject <filter>] [--durable <name>] [--max <n>] [--timeout-ms <n>]');
  process.exit(0);
}
const broker = loadConfig({ ...process.env, NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' }).broker!;
const subject = args.subject ?? `${broker.subjectPrefix}.>`;
const max = args.max ? Number(args.max) : Number.POSITIVE_INFINITY;
const idleMs = args['timeout-ms'] ? Number(args['timeout-ms']) : undefined;
if (!(max > 0) || (idleMs !== undefined && !(idleMs > 0))) {
  console.error('--max and --timeout-ms take positive numbers');
  process.exit(2);
}

const nc = await connect({ servers: broker.url.split(','), name: 'pos-events-consumer', timeout: 5000 });
const js = nc.jetstream();
let consumer;
if (args.durable) {
  const manager = await nc.jetstreamManager();
  await manager.consumers.add(broker.stream, { durable_name: args.durable, ack_policy: AckPolicy.Explicit, filter_subject: subject });
  consumer = await js.consumers.get(broker.stream, args.durable);
} else {
  // One subject as a string: nats-server 2.9 (this machine's) knows only a single filter.
  consumer = await js.consumers.get(broker.stream, { filterSubjects: subject });
}
console.error(`consuming ${subject} from stream ${broker.stream} at ${broker.url}${args.durable ? ` (durable ${args.durable})` : ''}`);

const codec = JSONCodec<DomainEvent>();
const messages = await consumer.consume();
let idle: NodeJS.Timeout | undefined;
let timedOut = false;
const armIdle = () => {
  if (idleMs === undefined) return;
  clearTimeout(idle);
  idle = setTimeout(() => {
    timedOut = true;
    console.error(`no event for ${idleMs} ms`);
    void messages.close();
  }, idleMs);
};
armIdle();
let count = 0;
for await (const message of messages) {
  console.log(JSON.stringify({ seq: message.seq, subject: message.subject, msgId: message.headers?.get('Nats-Msg-Id'), event: codec.decode(message.data) }));
  message.ack();
  armIdle();
  if (++count >= max) break;
}
clearTimeout(idle);
await nc.drain();
process.exit(timedOut ? 1 : 0);
