import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts (sign-up and login) and the read-only product catalog. */
export class CreateAccountsAndProducts1764000000000 implements MigrationInterface {
  name = 'CreateAccountsAndProducts1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        email         text        NOT NULL,
        name          text        NOT NULL,
        password_hash text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        -- emails are stored lower-cased by the service; the constraint name is what
        -- the repository matches on to answer 409 EMAIL_TAKEN instead of a 500
        CONSTRAINT accounts_email_key UNIQUE (email),
        CONSTRAINT accounts_email_lowercase CHECK (email = lower(email))
      )`);
    await q.query(`
      CREATE TABLE products (
        id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        sku         text        NOT NULL,
        name        text        NOT NULL,
        price_cents integer     NOT NULL CHECK (price_cents >= 0),
        currency    char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        stock       integer     NOT NULL DEFAULT 0 CHECK (stock >= 0),
        status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'discontinued')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT products_sku_key UNIQUE (sku)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE products');
    await q.query('DROP TABLE accounts');
  }
}
