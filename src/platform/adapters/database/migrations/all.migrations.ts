import { CreateAccountsAndProducts1764000000000 } from './1764000000000-create-accounts-and-products.migration';
import { CreateOrders1767225600000 } from './1767225600000-create-orders.migration';
import { CreateReports1767312000000 } from './1767312000000-create-reports.migration';
import { CreateIdempotencyKeys1767398400000 } from './1767398400000-create-idempotency-keys.migration';
import { OrderSettlementGuard1767571200000 } from './1767571200000-order-settlement-guard.migration';
import { IdempotencyAnswerOutdated1767657600000 } from './1767657600000-idempotency-answer-outdated.migration';

/**
 * Every migration, in order. Listed by hand (no glob) so that the build, the tests
 * and `npm run db:migrate` all see exactly the reviewed set, and readiness can tell
 * a pending migration from a drifted database.
 */
export const MIGRATIONS = [
  CreateAccountsAndProducts1764000000000,
  CreateOrders1767225600000,
  CreateReports1767312000000,
  CreateIdempotencyKeys1767398400000,
  OrderSettlementGuard1767571200000,
  IdempotencyAnswerOutdated1767657600000,
];
