import { z } from 'zod';
import { MAX_EXACT_INTEGER } from '../../shared/http-schemas.ts';
import { defineProblem } from '../../shared/problem-details.ts';

/** Problems of the payments module: thrown when a payment is collected, documented by the orders routes through the gateway. */
export const paymentProblems = {
  cardDeclined: defineProblem({
    id: 'CardDeclinedProblem',
    status: 402,
    slug: 'card-declined',
    title: 'Card declined',
    description: 'The card provider declined the payment: no order was made.',
    extensions: { declineCode: z.enum(['declined', 'insufficient_funds']).describe("The provider's reason (Stripe's decline codes)") },
  }),
  insufficientTender: defineProblem({
    id: 'InsufficientTenderProblem',
    status: 422,
    slug: 'insufficient-tender',
    title: 'Insufficient cash tendered',
    description: 'The cash tendered is less than the order total: no order was made.',
    extensions: {
      tendered: z.number().int().min(0).max(MAX_EXACT_INTEGER).describe('Minor units handed over'),
      total: z.number().int().min(0).max(MAX_EXACT_INTEGER).describe('Minor units due'),
    },
  }),
  invalidCardToken: defineProblem({
    id: 'InvalidCardTokenProblem',
    status: 422,
    slug: 'invalid-card-token',
    title: 'Invalid card token',
    description: 'The card token is not valid for this payment provider (test provider: `tok_visa`, `tok_mastercard` approve).',
  }),
  alreadyRefunded: defineProblem({
    id: 'AlreadyRefundedProblem',
    status: 409,
    slug: 'already-refunded',
    title: 'Already refunded',
    description: 'This payment was already refunded.',
  }),
};
