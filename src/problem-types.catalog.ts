import { ACCOUNTS_PROBLEM_TYPES } from './accounts/accounts.errors';
import { ORDERS_PROBLEM_TYPES } from './orders/orders.errors';
import { PAYMENTS_PROBLEM_TYPES } from './payments/payments.errors';
import { IDEMPOTENCY_PROBLEM_TYPES } from './platform/edge/idempotency/idempotency.errors';
import { PLATFORM_PROBLEM_TYPES } from './platform/kernel/errors/app.errors';
import { registerProblemTypes } from './platform/kernel/errors/problem-type.registry';
import { PRODUCTS_PROBLEM_TYPES } from './products/products.errors';
import { REPORTS_PROBLEM_TYPES } from './reports/reports.errors';

/**
 * Every owner's problem types, in the order `GET /problems` lists them: the platform's, then each
 * feature's. The registry is built from this list and nothing else (importing an errors file
 * registers nothing), at the start of every process: the entry points call
 * {@link registerProblemCatalog} first thing, CoreModule.forRoot calls it for whatever builds a
 * process from it (tests, commands), and so does the test setup for unit tests. A code declared
 * in a `*.errors.ts` but missing here fails loudly when used (problemTypeOf), and
 * src/problem-types.catalog.spec.ts fails first: it finds every `*_PROBLEM_TYPES` of src/.
 */
export const PROBLEM_CATALOG = [
  PLATFORM_PROBLEM_TYPES,
  ACCOUNTS_PROBLEM_TYPES,
  PAYMENTS_PROBLEM_TYPES,
  IDEMPOTENCY_PROBLEM_TYPES,
  PRODUCTS_PROBLEM_TYPES,
  ORDERS_PROBLEM_TYPES,
  REPORTS_PROBLEM_TYPES,
];

/** Builds the problem-type registry from {@link PROBLEM_CATALOG}; calling it again is a no-op. */
export function registerProblemCatalog(): void {
  registerProblemTypes(...PROBLEM_CATALOG);
}
