import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from '../platform/adapters/failures/pg.errors';
import { SqlClient, type SqlExecutor } from '../platform/adapters/database/sql.client';
import { Account } from './account.entity';
import { EmailTakenError } from './accounts.errors';
import type { AccountLock } from './accounts.types';

/** The constraint that makes an email unique (migration 1764000000000). */
export const EMAIL_UNIQUE_CONSTRAINT = 'accounts_email_key';

export type NewAccount = Pick<Account, 'email' | 'name' | 'passwordHash'>;
export type AccountRecord = Omit<Account, 'passwordHash'>;

/** The only code that talks to the `accounts` table (other features lock a row through {@link AccountLock}). */
@Injectable()
export class AccountsRepository implements AccountLock {
  constructor(private readonly sql: SqlClient) {}

  async hold(tx: SqlExecutor, accountId: string): Promise<boolean> {
    const rows = await tx.query(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, [accountId], {
      queryClass: 'lock',
      name: 'accounts.hold',
    });
    return rows.length === 1;
  }

  /**
   * Inserts an account; Postgres fills `id` and `created_at`.
   * @throws EmailTakenError on the unique violation of `accounts_email_key`. There is
   * deliberately no SELECT first: two concurrent sign-ups would both pass it, and the
   * loser would hit the constraint anyway. The constraint is the check.
   */
  async insert(values: NewAccount): Promise<AccountRecord> {
    const rows = await this.sql
      .query<Pick<Account, 'id' | 'createdAt'>>(
        'INSERT INTO accounts (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id, created_at AS "createdAt"',
        [values.email, values.name, values.passwordHash],
        { queryClass: 'write', name: 'accounts.insert' },
      )
      .catch((error: unknown) => {
        if (isUniqueViolation(error, EMAIL_UNIQUE_CONSTRAINT)) throw new EmailTakenError(error);
        // Outages (503) and statement timeouts (504) are mapped for every repository by the
        // global filter (platform/edge/http/problem.factory.ts); anything else is a bug, a logged 500.
        throw error;
      });
    const generated = rows[0];
    return { id: generated.id, email: values.email, name: values.name, createdAt: generated.createdAt };
  }

  async findById(id: string): Promise<AccountRecord | null> {
    const rows = await this.sql.query<AccountRecord>(
      'SELECT id, email, name, created_at AS "createdAt" FROM accounts WHERE id = $1',
      [id],
      { name: 'accounts.findById' },
    );
    return rows[0] ?? null;
  }

  /** @param email already normalized (trimmed, lower-cased), as it is stored. */
  async findCredentialsByEmail(email: string): Promise<Pick<Account, 'id' | 'passwordHash'> | null> {
    const rows = await this.sql.query<Pick<Account, 'id' | 'passwordHash'>>(
      'SELECT id, password_hash AS "passwordHash" FROM accounts WHERE email = $1',
      [email],
      { name: 'accounts.findCredentialsByEmail' },
    );
    return rows[0] ?? null;
  }
}
