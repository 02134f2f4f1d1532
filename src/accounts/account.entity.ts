import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A row of `accounts` (created by migration 1764000000000; never `synchronize`d).
 * The database guards what the service promises: `email` is unique (`accounts_email_key`,
 * which the repository turns into 409 EMAIL_TAKEN) and stored lower-cased (a CHECK).
 */
@Entity({ name: 'accounts' })
export class Account {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text', unique: true })
  email!: string;

  @Column({ type: 'text' })
  name!: string;

  /** `scrypt$N$r$p$salt$hash` (see PasswordService). Not selected unless asked for by name. */
  @Column({ name: 'password_hash', type: 'text', select: false })
  passwordHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
