/**
 * OpenTelemetry tracing for the process: starts `@opentelemetry/sdk-node` (configured by the
 * standard `OTEL_*` variables) and `@fastify/otel`, and gives the kernel the {@link Tracing} it
 * wires into requests, gateway calls, units of work and event handlers (shared/telemetry.ts).
 *
 * Off unless asked for (see {@link tracingRequested}). Only traces: metrics are Prometheus text on
 * the metrics listener (shared/metrics.ts), so the SDK's metric readers and log exporters, which
 * it would otherwise set up from the environment (OTLP by default), are not started.
 *
 * No monkey-patching is involved (`@fastify/otel` is a Fastify plugin the kernel registers, and
 * the kernel opens its own spans), so the SDK need not start before Fastify is imported. The
 * database driver (postgres.js) is not instrumented: its time shows in the unit-of-work spans.
 */
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyPluginCallback } from 'fastify';
import type { Tracing } from '../shared/telemetry.ts';

/** Name of the tracer of the kernel's own spans (the instrumentation scope). */
const TRACER_NAME = 'pos-api';

const truthy = (value: string | undefined) => /^(true|1)$/i.test(value?.trim() ?? '');

/**
 * Whether the environment asks for tracing: `OTEL_SDK_DISABLED` is not true, and either
 * `OTEL_TRACES_EXPORTER` names an exporter other than `none` (`otlp`, `console`, `zipkin`), or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (then the exporter
 * is OTLP, the SDK's default). Nothing set: tracing off.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (truthy(env.OTEL_SDK_DISABLED)) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length > 0) return exporters.some((name) => name !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Tracing started for this process, and how to flush and stop it. */
export interface StartedTracing {
  readonly tracing: Tracing;
  /** Exports the spans still buffered, stops the SDK and unregisters its global tracer, context manager and propagator. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing when {@link tracingRequested} (or when `spanProcessors` are given, as tests do
 * with an in-memory exporter), else returns `undefined` and starts nothing. Exporters, sampler,
 * propagators, resource and batching come from the `OTEL_*` variables as the SDK reads them;
 * `service.name` defaults to `pos-api` unless `OTEL_SERVICE_NAME` (or `service.name` in
 * `OTEL_RESOURCE_ATTRIBUTES`) says otherwise. Registers the SDK's tracer provider, AsyncLocalStorage
 * context manager and propagator (W3C trace context + baggage by default) globally.
 */
export function startTracing(options: { env?: NodeJS.ProcessEnv; spanProcessors?: SpanProcessor[] } = {}): StartedTracing | undefined {
  const env = options.env ?? process.env;
  if (!options.spanProcessors && !tracingRequested(env)) return undefined;
  const fastifyOtel = new FastifyOtelInstrumentation({
    // One span per request (and one for its handler), not one per lifecycle hook of every plugin.
    instrumentHooks: false,
    // The span's name per the HTTP semantic conventions: method and route pattern.
    requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`),
  });
  const namesService = Boolean(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(namesService ? {} : { serviceName: 'pos-api' }),
    instrumentations: [fastifyOtel],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    tracing: { tracer: trace.getTracer(TRACER_NAME), fastifyPlugin: fastifyOtel.plugin() as unknown as FastifyPluginCallback },
    async shutdown() {
      await sdk.shutdown();
      fastifyOtel.disable();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
