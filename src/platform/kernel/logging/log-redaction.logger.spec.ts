import { redactErrorFields, serializeError } from './log-redaction.logger';

describe('serializeError', () => {
  const pgError = (code: string, message: string) =>
    Object.assign(new Error(message), {
      code,
      detail: 'Key (email)=(ann@example.com) already exists.',
      where: 'SQL statement "INSERT ... ann@example.com"',
      constraint: 'accounts_email_key',
    });

  it('keeps type, message, stack and codes, and drops parameters, query, detail and unknown fields at every depth', () => {
    const driverError = pgError('23505', 'duplicate key value violates unique constraint "accounts_email_key"');
    const queryFailed = Object.assign(new Error(driverError.message), {
      query: "INSERT INTO accounts VALUES ('ann@example.com')",
      parameters: ['ann@example.com', 'Ann', 'scrypt$16384$8$1$salt$hash'],
      driverError,
      someLibraryField: { email: 'ann@example.com' },
    });
    const wrapped = new Error('sign-up failed', { cause: queryFailed });
    const raw = JSON.stringify(serializeError(wrapped));
    expect(raw).not.toContain('ann@example.com');
    expect(raw).not.toContain('scrypt$');
    expect(serializeError(wrapped)).toMatchObject({
      type: 'Error',
      message: 'sign-up failed',
      cause: { message: driverError.message, driverError: { code: '23505', constraint: 'accounts_email_key' } },
    });
  });

  it('replaces quoted values in messages that echo input (Postgres class 22, JSON syntax errors), stack included', () => {
    const invalid = pgError('22P02', 'invalid input syntax for type uuid: "ann@example.com"');
    const out = serializeError(invalid) as { message: string; stack: string };
    expect(out.message).toBe('invalid input syntax for type uuid: "[REDACTED]"');
    expect(out.stack).not.toContain('ann@example.com');
    const syntax = new SyntaxError('Unexpected token \'n\', "{not json" is not valid JSON');
    expect(JSON.stringify(serializeError(syntax))).not.toContain('not json"');
  });

  it('survives cycles and non-errors', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(serializeError(a)).toMatchObject({ message: 'a' });
    expect(serializeError('plain')).toBe('plain');
  });

  it('applies to an Error logged under any key', () => {
    const error = Object.assign(new Error('x'), { parameters: ['secret@example.com'] });
    expect(JSON.stringify(redactErrorFields({ error, n: 1 }))).not.toContain('secret@example.com');
  });
});
