/**
 * The payments service's internal HTTP API (service-to-service): what the payments module serves
 * when it runs as its own service (`npm run start:service -- payments`, internal-routes.ts) and
 * what its HTTP client in the monolith calls (remote-gateway.ts). One source for both sides.
 *
 * Every call sends `Authorization: Bearer <SERVICE_TOKEN>` and the tenant in `x-tenant-id`; the
 * service runs each call in that tenant's unit of work, so row-level security confines it there
 * too. Paths are under `/api/v1/payments` of the service, the prefix the module's public routes
 * have in the monolith. Amounts are integer minor units of `currency`.
 */
import { z } from 'zod';
import { Id, MAX_EXACT_INTEGER, MAX_MINOR_UNITS, Money } from '../../shared/http-schemas.ts';
import { defineProblem } from '../../shared/problem-details.ts';
import { PAYMENT_METHODS } from './gateway.ts';

/** Headers of every internal call: the tenant it acts for (the service token is checked separately). */
export const ServiceCallHeaders = z.object({ 'x-tenant-id': Id.describe('The restaurant (tenant) this call acts for') });

/** How the customer pays, as the orders module passes it on (see `PaymentInstruction`). */
const Instruction = z.discriminatedUnion('method', [
  z.object({ method: z.literal('cash'), tendered: Money(MAX_MINOR_UNITS) }).strict(),
  z.object({ method: z.literal('card'), token: z.string().min(1).max(255) }).strict(),
]);

/**
 * `POST /authorisations`: step 1 of the saga. The caller chooses `paymentId` (its idempotency
 * key: a repeat with the same id answers the stored payment, a different order or amount is 409);
 * the card is authorised at the provider and the payment stored `authorised` until confirmed.
 */
export const AuthoriseRequest = z
  .object({
    paymentId: Id,
    orderId: Id,
    amount: Money(MAX_EXACT_INTEGER),
    currency: z.string().regex(/^[A-Z]{3}$/),
    instruction: Instruction,
  })
  .strict()
  .meta({ id: 'AuthorisePaymentRequest' });

/**
 * `POST /:id/void`: releases an authorisation whose order failed. Carries what the payment would
 * have been, so that a release that overtakes its (slow) authorisation leaves a `voided` record
 * that refuses the late authorisation.
 */
export const ReleaseRequest = z
  .object({ orderId: Id, method: z.enum(PAYMENT_METHODS), amount: Money(MAX_EXACT_INTEGER), currency: z.string().regex(/^[A-Z]{3}$/) })
  .strict()
  .meta({ id: 'ReleasePaymentRequest' });

/** `POST /lookup`: the payments with these ids (gateway `findMany`). */
export const LookupRequest = z.object({ ids: z.array(Id).max(1000) }).strict().meta({ id: 'PaymentLookupRequest' });

/** Problems only the internal API answers (the saga's conflicts; both mean a caller bug, never a customer's). */
export const internalProblems = {
  paymentIdConflict: defineProblem({
    id: 'PaymentIdConflictProblem',
    status: 409,
    slug: 'payment-id-conflict',
    title: 'Payment id in use',
    description: 'This payment id was used for another order, amount or method.',
  }),
  paymentAlreadyConfirmed: defineProblem({
    id: 'PaymentAlreadyConfirmedProblem',
    status: 409,
    slug: 'payment-already-confirmed',
    title: 'Payment confirmed',
    description: 'This payment was confirmed by its order: it cannot be released (refund it instead).',
  }),
};
