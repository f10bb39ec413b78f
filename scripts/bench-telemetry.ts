/**
 * Micro-benchmark of a gateway call between modules: the gateway itself (what a module gets when
 * tracing is off: the host does not wrap it), the traced proxy with the API's no-op tracer, and
 * the traced proxy with the SDK recording every span (batch processor, exporter that drops them).
 * Prints nanoseconds per call (median of 7 runs). `npm run bench:telemetry`.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { TracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { traceGateway } from '../shared/telemetry.ts';

interface Gateway {
  findMenuItems(uow: object, ids: string[]): Promise<number>;
}
const gateway: Gateway = {
  async findMenuItems(_uow, ids) {
    return ids.length;
  },
};
const uow = {};
const ids = ['a', 'b'];

async function nsPerCall(g: Gateway, calls: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await g.findMenuItems(uow, ids);
  return Number(process.hrtime.bigint() - started) / calls;
}

async function measure(label: string, g: Gateway, calls = 200_000) {
  await nsPerCall(g, calls); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) runs.push(await nsPerCall(g, calls));
  runs.sort((a, b) => a - b);
  console.log(`${label.padEnd(58)} ${runs[3]!.toFixed(0).padStart(6)} ns/call`);
  return runs[3]!;
}

const dropping: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};
const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: dropping, maxQueueSize: 100_000, maxExportBatchSize: 4096 })] });
const sdkTracer: Tracer = provider.getTracer('bench');

const plain = await measure('tracing off (the gateway itself, as the host passes it)', gateway);
const noop = await measure('traced proxy, API no-op tracer (no SDK registered)', traceGateway(gateway, trace.getTracer('bench'), 'orders', 'restaurant'));
const sdk = await measure('traced proxy, SDK tracer recording every span', traceGateway(gateway, sdkTracer, 'orders', 'restaurant'), 100_000);
console.log(`overhead per call: no-op tracer +${(noop - plain).toFixed(0)} ns, recording +${(sdk - plain).toFixed(0)} ns`);
await provider.shutdown();
