import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet, { type HelmetOptions } from 'helmet';
import { describe, expect, it } from 'vitest';
import { staticSecurityHeaders } from './security-headers.ts';

/** The headers helmet sets on a real Node response when run as middleware. */
function helmetOnARealResponse(options: HelmetOptions): Record<string, unknown> {
  const request = new IncomingMessage(new Socket());
  const response = new ServerResponse(request);
  response.setHeader('X-Powered-By', 'something'); // helmet removes it
  helmet(options)(request, response, () => {});
  return response.getHeaders();
}

describe('staticSecurityHeaders', () => {
  it.each([
    ['the API options', { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }],
    ['helmet defaults', {}],
    ['a stricter frame policy, no HSTS', { frameguard: { action: 'deny' }, strictTransportSecurity: false }],
  ] as Array<[string, HelmetOptions]>)('gives exactly what helmet sets per request (%s)', (_name, options) => {
    const computed = staticSecurityHeaders(options);
    expect(computed).toEqual(helmetOnARealResponse(options));
    expect(Object.keys(computed).length).toBeGreaterThan(5);
    expect(Object.isFrozen(computed)).toBe(true);
  });

  it('refuses options whose headers depend on the request (a nonce computed per request)', () => {
    const nonce = (_req: IncomingMessage, res: ServerResponse) => `'nonce-${(res as unknown as { locals: { nonce: string } }).locals.nonce}'`;
    expect(() => staticSecurityHeaders({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", nonce] } } })).toThrow(/depend on the request/);
  });
});
