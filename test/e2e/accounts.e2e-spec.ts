import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const SIGN_UP = '/v1/accounts';
const ME = '/v1/accounts/me';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('accounts', () => {
  let t: TestApp;
  let seq = 0;
  /** A fresh, valid sign-up body; every test gets its own email. */
  const newAccount = (overrides: Record<string, unknown> = {}) => ({
    email: `user${++seq}@example.com`,
    password: `pw-${seq}-correct horse`,
    name: `User ${seq}`,
    ...overrides,
  });
  const countAccounts = async (email: string) =>
    Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM accounts WHERE email = $1', [email]))[0].n);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  describe('POST /v1/accounts', () => {
    it('answers 201 with the account: id, lower-cased email, trimmed name, ISO createdAt', async () => {
      const body = newAccount({ email: '  Ann.Example@Example.COM ', name: '  Ann Example  ' });
      const res = await t.http.post(SIGN_UP, body);

      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        id: expect.stringMatching(UUID),
        email: 'ann.example@example.com',
        name: 'Ann Example',
        createdAt: expect.stringMatching(ISO_UTC),
      });
      expect(Math.abs(Date.parse(res.body.createdAt) - Date.now())).toBeLessThan(60_000);
    });

    it('stores a salted scrypt hash, never the password, and logs neither', async () => {
      const body = newAccount();
      const res = await t.http.post(SIGN_UP, body);
      expect(res.status).toBe(201);

      const [row] = await t.db.query<{ email: string; password_hash: string }>(
        'SELECT email, password_hash FROM accounts WHERE id = $1',
        [res.body.id],
      );
      expect(row.email).toBe(body.email);
      expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
      expect(row.password_hash).not.toContain(body.password);
      expect(res.text).not.toContain(body.password);
      await t.logs.completion(res.headers.get('x-request-id')!);
      expect(JSON.stringify(t.logs.lines)).not.toContain(body.password);
    });

    it('gives two accounts with the same password different hashes (random salt)', async () => {
      const a = await t.http.post(SIGN_UP, newAccount({ password: 'same password twice' }));
      const b = await t.http.post(SIGN_UP, newAccount({ password: 'same password twice' }));
      const rows = await t.db.query<{ password_hash: string }>(
        'SELECT password_hash FROM accounts WHERE id IN ($1, $2)',
        [a.body.id, b.body.id],
      );
      expect(rows).toHaveLength(2);
      expect(rows[0].password_hash).not.toBe(rows[1].password_hash);
    });

    it('answers 409 EMAIL_TAKEN when the email is registered already', async () => {
      const body = newAccount();
      expect((await t.http.post(SIGN_UP, body)).status).toBe(201);

      const again = await t.http.post(SIGN_UP, { ...body, name: 'Someone else' });

      expectProblem(again, 409, 'EMAIL_TAKEN', SIGN_UP);
      expect(again.text).not.toContain(body.email);
      expect(await countAccounts(body.email)).toBe(1);
    });

    it('answers 409 EMAIL_TAKEN for the same email in another case (A@x.io vs a@x.io)', async () => {
      expect((await t.http.post(SIGN_UP, newAccount({ email: 'A@x.io' }))).status).toBe(201);

      const lower = await t.http.post(SIGN_UP, newAccount({ email: 'a@x.io' }));
      const padded = await t.http.post(SIGN_UP, newAccount({ email: ' a@X.IO ' }));

      expectProblem(lower, 409, 'EMAIL_TAKEN', SIGN_UP);
      expectProblem(padded, 409, 'EMAIL_TAKEN', SIGN_UP);
      expect(await countAccounts('a@x.io')).toBe(1);
    });

    it('lets exactly one of 10 simultaneous sign-ups with one email through; the other 9 get 409, never 500', async () => {
      const email = `race-${Date.now()}@example.com`;
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => t.http.post(SIGN_UP, newAccount({ email, name: `Racer ${i}` }))),
      );

      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
      for (const res of responses.filter((r) => r.status === 409)) expectProblem(res, 409, 'EMAIL_TAKEN', SIGN_UP);
      expect(await countAccounts(email)).toBe(1);
    });

    describe('answers 400 VALIDATION_FAILED naming the bad field', () => {
      const valid = { email: 'valid@example.com', password: 'long enough password', name: 'Valid Name' };
      const cases: [string, unknown, { pointer: string; detail: string }[]][] = [
        [
          'a missing email',
          { password: valid.password, name: valid.name },
          [{ pointer: '/email', detail: 'Required' }],
        ],
        [
          'a missing password',
          { email: valid.email, name: valid.name },
          [{ pointer: '/password', detail: 'Required' }],
        ],
        [
          'a missing name',
          { email: valid.email, password: valid.password },
          [{ pointer: '/name', detail: 'Required' }],
        ],
        ['an email of the wrong type', { ...valid, email: 42 }, [{ pointer: '/email', detail: 'Must be a string' }]],
        [
          'a password of the wrong type',
          { ...valid, password: 12345678 },
          [{ pointer: '/password', detail: 'Must be a string' }],
        ],
        ['a name of the wrong type', { ...valid, name: null }, [{ pointer: '/name', detail: 'Must be a string' }]],
        [
          'an email that is not an address',
          { ...valid, email: 'not-an-email' },
          [{ pointer: '/email', detail: 'Invalid email address' }],
        ],
        [
          'an email without a domain',
          { ...valid, email: 'ann@' },
          [{ pointer: '/email', detail: 'Invalid email address' }],
        ],
        [
          'an email over 254 characters',
          { ...valid, email: `${'a'.repeat(250)}@example.com` },
          [{ pointer: '/email', detail: 'Must be at most 254 characters' }],
        ],
        [
          'a password of 7 characters',
          { ...valid, password: '1234567' },
          [{ pointer: '/password', detail: 'Must be at least 8 characters' }],
        ],
        [
          'a password of 129 characters',
          { ...valid, password: 'x'.repeat(129) },
          [{ pointer: '/password', detail: 'Must be at most 128 characters' }],
        ],
        [
          'a password with a lone UTF-16 surrogate',
          { ...valid, password: 'password\ud800' },
          [{ pointer: '/password', detail: 'Must be valid Unicode text' }],
        ],
        ['an empty name', { ...valid, name: '' }, [{ pointer: '/name', detail: 'Must not be empty' }]],
        ['a name of spaces only', { ...valid, name: '   ' }, [{ pointer: '/name', detail: 'Must not be empty' }]],
        [
          'a name over 100 characters',
          { ...valid, name: 'n'.repeat(101) },
          [{ pointer: '/name', detail: 'Must be at most 100 characters' }],
        ],
        [
          'a name with a NUL byte',
          { ...valid, name: 'Ann\u0000' },
          [{ pointer: '/name', detail: 'Must not contain control characters' }],
        ],
        ['an unknown field', { ...valid, role: 'admin' }, [{ pointer: '/role', detail: 'Unknown field' }]],
        [
          'an empty object',
          {},
          [
            { pointer: '/email', detail: 'Required' },
            { pointer: '/password', detail: 'Required' },
            { pointer: '/name', detail: 'Required' },
          ],
        ],
        [
          'every field bad at once',
          { email: 'nope', password: 'short', name: '', extra: true },
          [
            { pointer: '/email', detail: 'Invalid email address' },
            { pointer: '/password', detail: 'Must be at least 8 characters' },
            { pointer: '/name', detail: 'Must not be empty' },
            { pointer: '/extra', detail: 'Unknown field' },
          ],
        ],
        ['a JSON array', [valid], [{ pointer: '', detail: 'The body must be a JSON object' }]],
        ['a JSON string', '"valid@example.com"', [{ pointer: '', detail: 'The body must be a JSON object' }]],
        ['JSON null', 'null', [{ pointer: '', detail: 'The body must be a JSON object' }]],
      ];

      it.each(cases)('for %s', async (_label, body, expected) => {
        const res =
          typeof body === 'string'
            ? await t.http.post(SIGN_UP, body, { headers: { 'content-type': 'application/json' } })
            : await t.http.post(SIGN_UP, body);

        expectProblem(res, 400, 'VALIDATION_FAILED', SIGN_UP);
        expect(res.body.errors).toEqual(expect.arrayContaining(expected.map((e) => ({ ...e, in: 'body' }))));
        expect(res.body.errors).toHaveLength(expected.length);
        expect(await countAccounts(valid.email)).toBe(0);
      });

      it('lists a field that breaks several rules once, with every rule it breaks (issue 17, item 18)', async () => {
        const res = await t.http.post(SIGN_UP, { ...valid, password: 'pw\u0000', name: ' \u0007 ' });

        expectProblem(res, 400, 'VALIDATION_FAILED', SIGN_UP);
        expect(res.body.errors).toEqual([
          {
            pointer: '/password',
            detail: 'Must be at least 8 characters; Must not contain control characters',
            in: 'body',
          },
          { pointer: '/name', detail: 'Must not contain control characters', in: 'body' },
        ]);
        expect(res.body.detail).toBe('2 fields are invalid.');
      });

      it('for a request without a body', async () => {
        const res = await t.http.post(SIGN_UP);

        expectProblem(res, 400, 'VALIDATION_FAILED', SIGN_UP);
        expect(res.body.errors).toEqual([{ pointer: '', detail: 'The body must be a JSON object', in: 'body' }]);
      });
    });

    it('answers 400 MALFORMED_REQUEST for an empty JSON body', async () => {
      const res = await t.http.post(SIGN_UP, '', { headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'MALFORMED_REQUEST', SIGN_UP);
    });

    it('answers 400 MALFORMED_REQUEST for a body that is not valid JSON', async () => {
      const res = await t.http.post(SIGN_UP, '{"email": "a@b.io",', {
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, 400, 'MALFORMED_REQUEST', SIGN_UP);
    });
  });

  describe('GET /v1/accounts/me', () => {
    const signUpAndLogIn = async () => {
      const body = newAccount();
      const created = await t.http.post(SIGN_UP, body);
      expect(created.status).toBe(201);
      const login = await t.http.post('/v1/auth/token', { email: body.email, password: body.password });
      expect(login.status).toBe(200);
      return { account: created.body, password: body.password, token: login.body.accessToken as string };
    };

    it('answers 200 with the account the token was issued for, and logs its id (never the token)', async () => {
      const { account, password, token } = await signUpAndLogIn();

      const res = await t.http.get(ME, { token });

      expect(res.status).toBe(200);
      expect(res.body).toEqual(account);
      const line = await t.logs.completion(res.headers.get('x-request-id')!);
      expect(line).toMatchObject({ route: '/v1/accounts/me', status: 200, accountId: account.id });
      const everything = JSON.stringify(t.logs.lines);
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(password);
    });

    it('answers 404 ACCOUNT_NOT_FOUND when the account was deleted after the token was issued', async () => {
      const { account, token } = await signUpAndLogIn();
      await t.db.query('DELETE FROM accounts WHERE id = $1', [account.id]);

      const res = await t.http.get(ME, { token });

      expectProblem(res, 404, 'ACCOUNT_NOT_FOUND', ME);
    });

    it('answers 401 UNAUTHENTICATED with WWW-Authenticate: Bearer without a token', async () => {
      const res = await t.http.get(ME);

      expectProblem(res, 401, 'UNAUTHENTICATED', ME);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="resilient-api"');
      const line = await t.logs.completion(res.headers.get('x-request-id')!);
      expect(line.accountId).toBeUndefined();
    });
  });
});
