import type { SqlExecutor } from '../platform/adapters/database/sql.client';

/**
 * The accounts feature's port for a feature that must serialize an account's work inside its own
 * transaction (reports counting an account's unfinished reports): the row lock is taken by
 * accounts' own SQL (accounts.repository.ts), never by a statement of the caller's naming the
 * `accounts` table. AccountsModule provides it (AccountsRepository) under this class as token.
 */
export abstract class AccountLock {
  /**
   * Locks the account's row until `tx` ends (`FOR NO KEY UPDATE`: it queues other holders of the
   * same account, never rows that only reference it, such as its orders).
   * @returns false when the account no longer exists (erased after its token was issued).
   */
  abstract hold(tx: SqlExecutor, accountId: string): Promise<boolean>;
}
