/**
 * Traces per module (OpenTelemetry), the kernel's half: spans for gateway calls between modules,
 * for units of work and for handled domain events, and the W3C trace context carried in an
 * event's envelope. The SDK itself (exporters, sampling, `OTEL_*` variables) is started by the
 * process entry, src/telemetry.ts; what the kernel gets from it is a {@link Tracing}.
 *
 * When tracing is off the kernel is given no `Tracing` and none of this runs: gateways are not
 * wrapped, units of work and events are not touched (zero cost, not merely a no-op tracer).
 *
 * Sources: Spring Modulith's module observability (a span per call into a module, named after
 * the module and method), the OpenTelemetry messaging semantic conventions (a consumer span
 * *links* to the context in which the message was created), W3C Trace Context (`traceparent`).
 */
import {
  context,
  createTraceState,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import type { FastifyPluginCallback } from 'fastify';
import type { RunInTenant } from './unit-of-work.ts';

/** What the kernel needs when tracing is on: a tracer, and the Fastify plugin that spans requests. */
export interface Tracing {
  /** Tracer for the kernel's own spans (gateway calls, units of work, event handling). */
  readonly tracer: Tracer;
  /**
   * Fastify plugin opening a span per HTTP request (`@fastify/otel`), registered by the kernel
   * before any route; it continues a trace whose `traceparent` header the client sent.
   */
  readonly fastifyPlugin: FastifyPluginCallback;
}

/** The W3C trace context of the span that published an event (the `trace` field of its envelope). */
export interface EventTraceContext {
  /** W3C `traceparent`: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
  traceparent: string;
  /** W3C `tracestate`, when the publishing span had one. */
  tracestate?: string;
}

/**
 * Runs `work` in a new active span named `name` (`options`: kind, attributes, links, `root` for
 * a new trace), ending it when `work` settles: an exception is
 * recorded and marks the span as an error, then rethrown unchanged.
 */
export async function inSpan<T>(tracer: Tracer, name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

function failSpan(span: Span, error: unknown) {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Wraps the gateway of module `callee`, as given to module `caller`, in a proxy: every method
 * call runs in a span named `<caller> → <callee>.<method>` (kind INTERNAL; attributes
 * `pos.module.caller`, `pos.module.callee`, `pos.module.method`), ended when the returned promise
 * settles (or at once for a synchronous method). Properties that are not functions pass through.
 * A method's wrapper is made once and reused, so `gateway.x === gateway.x` still holds.
 */
export function traceGateway<G extends object>(gateway: G, tracer: Tracer, caller: string, callee: string): G {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(gateway, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property === 'symbol') return value;
      let wrapper = wrapped.get(property);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => unknown;
        const name = `${caller} → ${callee}.${property}`;
        const attributes = { 'pos.module.caller': caller, 'pos.module.callee': callee, 'pos.module.method': property };
        wrapper = function (this: unknown, ...args: unknown[]) {
          return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, (span) => {
            let result: unknown;
            try {
              result = Reflect.apply(method, this === receiver ? target : this, args);
            } catch (error) {
              failSpan(span, error);
              span.end();
              throw error;
            }
            if (result instanceof Promise) {
              return result.then(
                (v: unknown) => {
                  span.end();
                  return v;
                },
                (error: unknown) => {
                  failSpan(span, error);
                  span.end();
                  throw error;
                },
              );
            }
            span.end();
            return result;
          });
        };
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

/** The trace context of the active span as an event envelope field, or undefined outside any (sampled or not) span. */
export function currentTraceContext(): EventTraceContext | undefined {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  const tracestate = spanContext.traceState?.serialize();
  return { traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`, ...(tracestate ? { tracestate } : {}) };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The span context an event's `trace` field names (remote), or undefined when the field is
 * missing (events published before tracing, or with tracing off) or malformed.
 */
export function spanContextOf(traceContext: EventTraceContext | undefined): SpanContext | undefined {
  const match = traceContext?.traceparent ? TRACEPARENT.exec(traceContext.traceparent) : null;
  if (!match || match[1] === 'ff') return undefined;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: parseInt(match[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(traceContext?.tracestate ? { traceState: createTraceState(traceContext.tracestate) } : {}),
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * `runInTenant` with a span per unit of work, named `unit of work` (attribute `pos.tenant_id`),
 * covering the transaction from BEGIN to its commit or rollback hooks.
 */
export function traceUnitsOfWork(runInTenant: RunInTenant, tracer: Tracer): RunInTenant {
  return (tenantId, work) => inSpan(tracer, 'unit of work', { attributes: { 'pos.tenant_id': tenantId } }, () => runInTenant(tenantId, work));
}
