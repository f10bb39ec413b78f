import { z } from 'zod';
import { defineProblem, FieldErrorSchema, RetryAfterHeader } from '../../shared/problem-details.ts';

/** Problems of the auth module: thrown by its service, documented by its routes. */
export const authProblems = {
  invalidCredentials: defineProblem({
    id: 'InvalidCredentialsProblem',
    status: 401,
    slug: 'invalid-credentials',
    title: 'Invalid credentials',
    description: 'The tenant, email or password is wrong: the same answer whichever it is, so accounts cannot be enumerated.',
  }),
  invalidRefreshToken: defineProblem({
    id: 'InvalidRefreshTokenProblem',
    status: 401,
    slug: 'invalid-refresh-token',
    title: 'Invalid refresh token',
    description: 'The refresh token is invalid, expired or revoked (a rotated token presented again revokes its whole session). Log in again.',
  }),
  emailTaken: defineProblem({
    id: 'EmailTakenProblem',
    status: 409,
    slug: 'email-taken',
    title: 'Email already in use',
    description: 'A staff member with this email already exists in this restaurant.',
  }),
  passwordTooCommon: defineProblem({
    id: 'PasswordTooCommonProblem',
    status: 422,
    slug: 'password-too-common',
    title: 'Password too common',
    description: 'The password is on the list of the 10,000 most common ones (NIST SP 800-63B); `errors` names `body.password`.',
    extensions: { errors: z.array(FieldErrorSchema).min(1) },
  }),
  passwordHashingBusy: defineProblem({
    id: 'PasswordHashingBusyProblem',
    status: 503,
    slug: 'password-hashing-busy',
    title: 'Service Unavailable',
    description: 'Too many password checks are in progress (load shedding): nothing was done; retry after `Retry-After` seconds.',
    extensions: { retryAfterSeconds: z.number().int().min(1).max(3600).describe('Same as the Retry-After header') },
    headers: { 'Retry-After': RetryAfterHeader },
  }),
};
