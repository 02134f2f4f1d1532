import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { isUniqueViolation } from '../platform/database/pg.errors';
import { Account } from './account.entity';
import { EmailTakenError } from './accounts.errors';

/** The constraint that makes an email unique (migration 1764000000000). */
export const EMAIL_UNIQUE_CONSTRAINT = 'accounts_email_key';

export type NewAccount = Pick<Account, 'email' | 'name' | 'passwordHash'>;
export type AccountRecord = Omit<Account, 'passwordHash'>;

/** The only code that talks to the `accounts` table. */
@Injectable()
export class AccountsRepository {
  constructor(@InjectRepository(Account) private readonly accounts: Repository<Account>) {}

  /**
   * Inserts an account; Postgres fills `id` and `created_at`.
   * @throws EmailTakenError on the unique violation of `accounts_email_key`. There is
   * deliberately no SELECT first: two concurrent sign-ups would both pass it, and the
   * loser would hit the constraint anyway. The constraint is the check.
   */
  async insert(values: NewAccount): Promise<AccountRecord> {
    const result = await this.accounts.insert(values).catch((error: unknown) => {
      if (isUniqueViolation(error, EMAIL_UNIQUE_CONSTRAINT)) throw new EmailTakenError(error);
      // Outages (503) and statement timeouts (504) are mapped for every repository by the
      // global filter (platform/errors/problem.factory.ts); anything else is a bug, a logged 500.
      throw error;
    });
    const generated = result.generatedMaps[0] as Pick<Account, 'id' | 'createdAt'>;
    return { id: generated.id, email: values.email, name: values.name, createdAt: generated.createdAt };
  }

  findById(id: string): Promise<AccountRecord | null> {
    return this.accounts.findOneBy({ id });
  }

  /** @param email already normalized (trimmed, lower-cased), as it is stored. */
  findCredentialsByEmail(email: string): Promise<Pick<Account, 'id' | 'passwordHash'> | null> {
    return this.accounts.findOne({ where: { email }, select: { id: true, passwordHash: true } });
  }
}
