import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModuleDeclarations } from './module-declarations.ts';
import { ASYNCAPI_FILE, renderAsyncApi } from './asyncapi.ts';
import { REPO_ROOT } from './repo-root.ts';

type Doc = {
  asyncapi: string;
  channels: Record<string, { address: string }>;
  operations: Record<string, { action: string }>;
  components: { messages: Record<string, { payload: { required: string[]; properties: Record<string, { const?: string; required?: string[]; properties?: Record<string, { type: string }> }> } }> };
};

describe('docs/asyncapi.json (npm run asyncapi)', () => {
  const rendered = renderAsyncApi();
  const doc = JSON.parse(rendered) as Doc;

  it('is what the modules declare today (run npm run asyncapi after changing an external event)', () => {
    expect(readFileSync(join(REPO_ROOT, ASYNCAPI_FILE), 'utf8')).toBe(rendered);
  });

  it("has a channel, a send operation and a message for exactly the modules' external events", () => {
    const folders = readdirSync(join(REPO_ROOT, 'modules'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    const external = readModuleDeclarations(REPO_ROOT, folders).flatMap((m) => m.external).sort();
    expect(external).toEqual(['OrderCancelled', 'OrderPaid', 'StockLevelChanged']);
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(doc.channels).sort()).toEqual(external);
    expect(Object.keys(doc.components.messages).sort()).toEqual(external);
    for (const type of external) {
      expect(doc.channels[type]!.address).toBe(`pos.events.${type}.{tenantId}`);
      expect(doc.operations[`send${type}`]!.action).toBe('send');
    }
  });

  it("derives each payload from the gateway's event type: the envelope, the payload fields, money as integers", () => {
    const orderPaid = doc.components.messages.OrderPaid!.payload;
    expect(orderPaid.required).toEqual(['id', 'type', 'tenantId', 'occurredAt', 'payload']);
    expect(orderPaid.properties.type!.const).toBe('OrderPaid');
    const payload = orderPaid.properties.payload!;
    expect(payload.required).toEqual(expect.arrayContaining(['orderId', 'total', 'currency', 'lines', 'paidAt']));
    expect(payload.properties!.total!.type).toBe('integer');
    expect(payload.properties!.paymentMethod).toMatchObject({ enum: ['cash', 'card'] });
  });
});
