/**
 * Operator tool: lists domain events parked after their handler failed every retry, and can send
 * them back for another round once the bug is fixed.
 *
 *   npm run events:parked                 # list parked events (DATABASE_URL or ./.data PGlite)
 *   npm run events:parked -- --redrive    # move them back to their subscriber's queue
 */
import { loadConfig } from '../shared/config.ts';
import { eventsOfJob, queueName, type QueuedEvents } from '../shared/event-bus.ts';
import { buildApp } from '../src/app.ts';

const redrive = process.argv.includes('--redrive');
if (process.argv.includes('--help')) {
  console.log('usage: npm run events:parked [-- --redrive]');
  process.exit(0);
}
const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', EVENT_DELIVERY: 'off' });
const app = await buildApp(config);
let total = 0;
for (const { queue: own, parked, subscriber, legacy } of app.events.queues()) {
  // Parked in a queue of the earlier layout (one per event type): back to the subscriber's queue.
  const queue = legacy ? queueName(subscriber) : own;
  const jobs = await app.events.boss.findJobs<QueuedEvents>(parked);
  const waiting = jobs.filter((j) => j.state === 'created' || j.state === 'retry');
  // A job holds one event or the several one transaction published (listed one per line; the
  // ones already handled are skipped again when the job is redriven).
  for (const job of waiting) {
    for (const event of eventsOfJob(job.data)) {
      total++;
      console.log(`${parked}\tevent ${event.id}\t${event.type}\ttenant ${event.tenantId}\toccurred ${event.occurredAt}\tparked ${job.createdOn.toISOString()}`);
    }
  }
  if (redrive && waiting.length > 0) {
    for (const job of waiting) {
      await app.events.boss.send(queue, job.data);
      await app.events.boss.deleteJob(parked, job.id);
    }
    console.log(`redrove ${waiting.length} job(s) to ${queue}`);
  }
}
console.log(`${total} parked event(s)`);
await app.close();
