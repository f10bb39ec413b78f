import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../shared/event-bus.ts';
import { startTracing, tracingRequested, type StartedTracing } from '../src/telemetry.ts';
import { eventually, menuItem, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

const cash = { method: 'cash', tendered: 100_000 };

describe('tracing is off unless the OTEL_* environment asks for it', () => {
  it.each([
    [{}, false],
    [{ OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console,otlp' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }, false],
  ])('%o → %s', (env, on) => {
    expect(tracingRequested(env)).toBe(on);
    if (!on) expect(startTracing({ env })).toBeUndefined();
  });
});

describe('an order is one trace across the modules; the reporting handler links to it', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: StartedTracing;
  let t: TestApp;
  let owner: TenantFixture;
  const legacyHandled: DomainEvent[] = [];

  beforeAll(async () => {
    telemetry = startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })!;
    t = await startTestApp({
      build: {
        tracing: telemetry.tracing,
        beforeReady: (app) => app.events.subscribe('OrderPaid', 'legacy-probe', async (_uow, event) => void legacyHandled.push(event)),
      },
    });
    owner = await signup(t.api);
  });
  afterAll(async () => {
    await t?.close();
    await telemetry?.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
  /** The chain of parents of `span` among the exported spans, nearest first. */
  const ancestors = (span: ReadableSpan): ReadableSpan[] => {
    const byId = new Map(spans().map((s) => [s.spanContext().spanId, s]));
    const chain: ReadableSpan[] = [];
    for (let p = span.parentSpanContext && byId.get(span.parentSpanContext.spanId); p; p = p.parentSpanContext && byId.get(p.parentSpanContext.spanId)) chain.push(p);
    return chain;
  };

  it('POST /orders: request → orders → restaurant, payments, inventory (and auth), each gateway call a span, in one unit of work', async () => {
    const item = await menuItem(t.api, owner.token, { price: 1250 });
    await setStock(t.api, owner.token, item.id, 10);
    exporter.reset();

    // A client that sends a W3C traceparent gets its trace continued.
    const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: cash }, {
      token: owner.token,
      headers: { 'idempotency-key': crypto.randomUUID(), traceparent: `00-${clientTraceId}-00f067aa0ba902b7-01` },
    });
    expect(order.status).toBe(201);

    const request = await eventually(async () => {
      const [span] = named('POST /api/v1/orders');
      expect(span).toBeDefined();
      return span!;
    });
    expect(request.kind).toBe(SpanKind.SERVER);
    expect(traceOf(request)).toBe(clientTraceId);
    expect(request.attributes['http.response.status_code']).toBe(201);
    expect(request.attributes['http.route']).toBe('/api/v1/orders');

    const inOrderTrace = spans().filter((s) => traceOf(s) === clientTraceId);
    const names = inOrderTrace.map((s) => s.name);
    for (const call of ['orders → auth.getTenant', 'orders → restaurant.findMenuItems', 'orders → payments.collect', 'orders → inventory.takeStock']) {
      expect(names, call).toContain(call);
      const span = inOrderTrace.find((s) => s.name === call)!;
      expect(span.attributes).toMatchObject({ 'pos.module.caller': 'orders', 'pos.module.method': call.split('.').pop() });
      // Each call is inside the order's unit of work, inside the HTTP request.
      const chain = ancestors(span).map((s) => s.name);
      expect(chain).toContain('unit of work');
      expect(chain.at(-1)).toBe('POST /api/v1/orders');
    }
    // The order took exactly one unit of work for its writes (plus the session check's).
    const orderUow = inOrderTrace.find((s) => s.name === 'orders → inventory.takeStock')!;
    const uow = ancestors(orderUow).find((s) => s.name === 'unit of work')!;
    expect(uow.attributes['pos.tenant_id']).toBe(owner.tenant.id);
    // The gateway spans ran in the order of the use case: prices first, stock after payment.
    const start = (name: string) => inOrderTrace.find((s) => s.name === name)!.startTime;
    const ns = ([s, n]: [number, number]) => s * 1e9 + n;
    expect(ns(start('orders → restaurant.findMenuItems'))).toBeLessThan(ns(start('orders → payments.collect')));
    expect(ns(start('orders → payments.collect'))).toBeLessThanOrEqual(ns(start('orders → inventory.takeStock')));

    // The reporting module handles OrderPaid in a trace of its own, linked to the order's.
    const handled = await eventually(async () => {
      const span = named('reporting handles OrderPaid').find((s) => s.links.some((l) => l.context.traceId === clientTraceId));
      expect(span).toBeDefined();
      return span!;
    }, 10_000);
    expect(traceOf(handled)).not.toBe(clientTraceId);
    const link = handled.links.find((l) => l.context.traceId === clientTraceId)!;
    // The link points at the span that published the event: the order's unit of work.
    expect(inOrderTrace.map((s) => s.spanContext().spanId)).toContain(link.context.spanId);
    expect(link.context.spanId).toBe(uow.spanContext().spanId);
    expect(handled.attributes).toMatchObject({ 'messaging.destination.name': 'reporting.events', 'pos.event.type': 'OrderPaid', 'messaging.message.id': link.attributes?.['messaging.message.id'] });
    // Handler span → its unit of work → the batch's CONSUMER span, root of the handling trace.
    // A span is exported when it ends, and a parent ends after its child: wait for the parents.
    const handling = await eventually(async () => {
      const chain = ancestors(handled);
      expect(chain.map((s) => s.name)).toEqual(['unit of work', 'process reporting.events']);
      return chain;
    });
    expect(handling[1]!.kind).toBe(SpanKind.CONSUMER);
    expect(handling[1]!.links.map((l) => l.context.traceId)).toContain(clientTraceId);

    // And the report shows the order: the handler did its work.
    await eventually(async () => expect((await t.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals.gross).toBe(2500));
  });

  it('an event without trace context (published before tracing was on) is handled, with an unlinked span', async () => {
    const event = { id: crypto.randomUUID(), type: 'OrderPaid', tenantId: owner.tenant.id, occurredAt: new Date().toISOString(), payload: {} };
    await t.app.events.boss.send('legacy-probe.events', event);
    await eventually(async () => expect(legacyHandled.map((e) => e.id)).toContain(event.id), 10_000);
    const span = await eventually(async () => {
      const s = named('legacy-probe handles OrderPaid').find((x) => x.attributes['messaging.message.id'] === event.id);
      expect(s).toBeDefined();
      return s!;
    });
    expect(span.links).toEqual([]);
    expect(legacyHandled.find((e) => e.id === event.id)!.trace).toBeUndefined();
  });

  it('a failing gateway call is an error span (404 of an unknown menu item)', async () => {
    exporter.reset();
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: crypto.randomUUID(), quantity: 1 }], payment: cash }, { token: owner.token, headers: { 'idempotency-key': crypto.randomUUID() } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const request = await eventually(async () => {
      const [span] = named('POST /api/v1/orders');
      expect(span).toBeDefined();
      return span!;
    });
    expect(request.attributes['http.response.status_code']).toBe(res.status);
    const uow = spans().find((s) => s.name === 'unit of work' && traceOf(s) === traceOf(request) && ancestors(s).includes(request) && s.status.code === 2);
    expect(uow, 'the rolled-back unit of work is an error span').toBeDefined();
  });
});
