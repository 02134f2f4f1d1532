import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const TOKEN = '/v1/auth/token';
const ME = '/v1/accounts/me';
const MISSING = 'Bearer realm="resilient-api"';
const INVALID = 'Bearer realm="resilient-api", error="invalid_token"';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT built by hand, so a test can make every kind of bad token the guard must refuse. */
function craftJwt(
  payload: Record<string, unknown>,
  options: { secret: string; alg?: 'HS256' | 'HS512' | 'none'; header?: Record<string, unknown> },
): string {
  const alg = options.alg ?? 'HS256';
  const signingInput = `${b64url({ alg, typ: 'JWT', ...options.header })}.${b64url(payload)}`;
  if (alg === 'none') return `${signingInput}.`;
  const hmac = createHmac(alg === 'HS512' ? 'sha512' : 'sha256', options.secret);
  return `${signingInput}.${hmac.update(signingInput).digest('base64url')}`;
}

const decodePart = (token: string, index: number) =>
  JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));

describe('auth', () => {
  let t: TestApp;
  let account: { id: string; email: string };
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.http.post('/v1/accounts', { email: 'Ann@Example.com', password, name: 'Ann' });
    expect(res.status).toBe(201);
    account = res.body;
  });
  afterAll(() => t.close());

  const now = () => Math.floor(Date.now() / 1000);
  /** The claims a token of ours carries; tests change one at a time. */
  const claims = (overrides: Record<string, unknown> = {}) => ({
    sub: account.id,
    iat: now(),
    exp: now() + 600,
    iss: 'resilient-api',
    aud: 'resilient-api',
    ...overrides,
  });
  const ourSecret = () => t.config.auth.jwtSecret;
  const claimsJson = () => JSON.stringify(claims());
  /** A token over a payload given as raw JSON text (for numbers JSON.stringify cannot write as sent). */
  const signedRaw = (payloadJson: string) => {
    const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${Buffer.from(payloadJson).toString('base64url')}`;
    return `${signingInput}.${createHmac('sha256', ourSecret()).update(signingInput).digest('base64url')}`;
  };

  describe('POST /v1/auth/token', () => {
    it('answers 200 with a bearer token (HS256, sub = account id) that opens GET /v1/accounts/me', async () => {
      const res = await t.http.post(TOKEN, { email: 'ann@example.com', password });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.auth.jwtTtlSeconds,
      });
      expect(res.headers.get('cache-control')).toBe('no-store');
      const token = res.body.accessToken as string;
      expect(decodePart(token, 0)).toEqual({ alg: 'HS256', typ: 'JWT' });
      const payload = decodePart(token, 1);
      expect(payload).toMatchObject({ sub: account.id, iss: 'resilient-api', aud: 'resilient-api' });
      expect(payload.exp - payload.iat).toBe(t.config.auth.jwtTtlSeconds);

      const me = await t.http.get(ME, { token });
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(account.id);
    });

    it('finds the account whatever the case and surrounding spaces of the email', async () => {
      const res = await t.http.post(TOKEN, { email: '  ANN@example.COM ', password });
      expect(res.status).toBe(200);
    });

    it('answers 401 UNAUTHENTICATED with the same body for a wrong password and an unknown email', async () => {
      const wrongPassword = await t.http.post(TOKEN, { email: account.email, password: 'wrong password!' });
      const unknownEmail = await t.http.post(TOKEN, { email: 'nobody@example.com', password });

      for (const res of [wrongPassword, unknownEmail]) {
        expectProblem(res, 401, 'UNAUTHENTICATED', TOKEN);
        expect(res.headers.get('www-authenticate')).toBe(MISSING);
      }
      const { requestId: _a, ...wrongPasswordBody } = wrongPassword.body;
      const { requestId: _b, ...unknownEmailBody } = unknownEmail.body;
      expect(wrongPasswordBody).toEqual(unknownEmailBody);
      expect(wrongPasswordBody.detail).toBe('The email or password is incorrect.');
    });

    it('takes comparable time for an unknown email and a wrong password (no account enumeration by timing)', async () => {
      const timeOf = async (email: string) => {
        const started = performance.now();
        const res = await t.http.post(TOKEN, { email, password: 'wrong password!' });
        expect(res.status).toBe(401);
        return performance.now() - started;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      // Interleaved, and compared by their fastest run: load on the machine only ever adds time.
      for (let i = 0; i < 7; i++) {
        known.push(await timeOf(account.email));
        unknown.push(await timeOf(`nobody-${i}@example.com`));
      }
      // Without the dummy hash an unknown email answers in ~2 ms against ~50 ms for a real check.
      expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...known) * 0.5);
    });

    it('never writes the password or the token to the log', async () => {
      const res = await t.http.post(TOKEN, { email: account.email, password });
      expect(res.status).toBe(200);
      await t.logs.completion(res.headers.get('x-request-id')!);

      const everything = JSON.stringify(t.logs.lines);
      expect(everything).not.toContain(password);
      expect(everything).not.toContain(res.body.accessToken);
    });

    describe('answers 400 VALIDATION_FAILED naming the bad field', () => {
      const cases: [string, unknown, { pointer: string; detail: string }[]][] = [
        ['a missing email', { password }, [{ pointer: '/email', detail: 'Required' }]],
        ['a missing password', { email: 'ann@example.com' }, [{ pointer: '/password', detail: 'Required' }]],
        [
          'an email of the wrong type',
          { email: ['ann@example.com'], password },
          [{ pointer: '/email', detail: 'Must be a string' }],
        ],
        [
          'a password of the wrong type',
          { email: 'ann@example.com', password: true },
          [{ pointer: '/password', detail: 'Must be a string' }],
        ],
        [
          'an email that is not an address',
          { email: 'ann', password },
          [{ pointer: '/email', detail: 'Invalid email address' }],
        ],
        [
          'an empty password',
          { email: 'ann@example.com', password: '' },
          [{ pointer: '/password', detail: 'Must not be empty' }],
        ],
        [
          'a password over 1024 characters',
          { email: 'ann@example.com', password: 'p'.repeat(1025) },
          [{ pointer: '/password', detail: 'Must be at most 1024 characters' }],
        ],
        [
          'an unknown field',
          { email: 'ann@example.com', password, remember: true },
          [{ pointer: '/remember', detail: 'Unknown field' }],
        ],
        [
          'an empty object',
          {},
          [
            { pointer: '/email', detail: 'Required' },
            { pointer: '/password', detail: 'Required' },
          ],
        ],
        ['a JSON array', [], [{ pointer: '', detail: 'The body must be a JSON object' }]],
      ];

      it.each(cases)('for %s', async (_label, body, expected) => {
        const res = await t.http.post(TOKEN, body);

        expectProblem(res, 400, 'VALIDATION_FAILED', TOKEN);
        expect(res.body.errors).toEqual(expected.map((e) => ({ ...e, in: 'body' })));
      });

      it('for a request without a body', async () => {
        const res = await t.http.post(TOKEN);

        expectProblem(res, 400, 'VALIDATION_FAILED', TOKEN);
        expect(res.body.errors).toEqual([{ pointer: '', detail: 'The body must be a JSON object', in: 'body' }]);
      });
    });
  });

  describe('the bearer guard (on GET /v1/accounts/me)', () => {
    const validToken = () => craftJwt(claims(), { secret: ourSecret() });

    it('lets a valid token through, with the scheme in any case, and logs the account id on the completion line', async () => {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const res = await t.http.get(ME, { headers: { authorization: `${scheme} ${validToken()}` } });
        expect(res.status).toBe(200);
        const line = await t.logs.completion(res.headers.get('x-request-id')!);
        expect(line.accountId).toBe(account.id);
      }
    });

    const refusals: [string, () => Record<string, string>, string][] = [
      ['no Authorization header', () => ({}), MISSING],
      ['an empty Authorization header', () => ({ authorization: '' }), MISSING],
      [
        'another scheme (Basic)',
        () => ({ authorization: `Basic ${Buffer.from('ann@example.com:pw').toString('base64')}` }),
        MISSING,
      ],
      ['the token without a scheme', () => ({ authorization: validToken() }), MISSING],
      ['"Bearer" and no token', () => ({ authorization: 'Bearer' }), INVALID],
      ['"Bearer" and spaces only', () => ({ authorization: 'Bearer    ' }), INVALID],
      ['a token with a space in it', () => ({ authorization: 'Bearer abc def' }), INVALID],
      ['a token that is not a JWT', () => ({ authorization: 'Bearer not-a-jwt' }), INVALID],
      ['three segments of garbage', () => ({ authorization: 'Bearer aaa.bbb.ccc' }), INVALID],
      [
        'an expired token',
        () => ({
          authorization: `Bearer ${craftJwt(claims({ iat: now() - 3600, exp: now() - 60 }), { secret: ourSecret() })}`,
        }),
        INVALID,
      ],
      [
        'a token signed with another secret (forged)',
        () => ({ authorization: `Bearer ${craftJwt(claims(), { secret: 'x'.repeat(48) })}` }),
        INVALID,
      ],
      [
        'an unsigned token (alg: none)',
        () => ({ authorization: `Bearer ${craftJwt(claims(), { secret: '', alg: 'none' })}` }),
        INVALID,
      ],
      [
        'a token of another algorithm (HS512, our secret)',
        () => ({ authorization: `Bearer ${craftJwt(claims(), { secret: ourSecret(), alg: 'HS512' })}` }),
        INVALID,
      ],
      [
        'a valid signature over a tampered payload',
        () => {
          const [header, , signature] = validToken().split('.');
          return {
            authorization: `Bearer ${header}.${b64url(claims({ sub: '00000000-0000-4000-8000-000000000000' }))}.${signature}`,
          };
        },
        INVALID,
      ],
      [
        'a token of another issuer',
        () => ({ authorization: `Bearer ${craftJwt(claims({ iss: 'someone-else' }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      [
        'a token for another audience',
        () => ({ authorization: `Bearer ${craftJwt(claims({ aud: 'billing' }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      [
        'a token not valid yet (nbf)',
        () => ({ authorization: `Bearer ${craftJwt(claims({ nbf: now() + 3600 }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      [
        'a token without sub',
        () => ({ authorization: `Bearer ${craftJwt(claims({ sub: undefined }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      // Signed with our secret, but not a token we would issue (issue 17, item 20).
      [
        'a token without exp (it would never expire)',
        () => ({ authorization: `Bearer ${craftJwt(claims({ exp: undefined }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      [
        'a token with exp 1e308',
        () => ({ authorization: `Bearer ${signedRaw(claimsJson().replace(/"exp":\d+/, '"exp":1e308'))}` }),
        INVALID,
      ],
      [
        'a token living longer than JWT_TTL_SECONDS (exp a year after iat)',
        () => ({
          authorization: `Bearer ${craftJwt(claims({ exp: now() + 365 * 86_400 }), { secret: ourSecret() })}`,
        }),
        INVALID,
      ],
      [
        'a token without iat',
        () => ({ authorization: `Bearer ${craftJwt(claims({ iat: undefined }), { secret: ourSecret() })}` }),
        INVALID,
      ],
      [
        'a token issued in the future (iat a day ahead, exp within the lifetime of it)',
        () => ({
          authorization: `Bearer ${craftJwt(claims({ iat: now() + 86_400, exp: now() + 86_400 + 60 }), { secret: ourSecret() })}`,
        }),
        INVALID,
      ],
      [
        'a token with a crit header (RFC 7515 §4.1.11: extensions we do not understand)',
        () => ({
          authorization: `Bearer ${craftJwt(claims(), { secret: ourSecret(), header: { crit: ['exp'], exp: 1 } })}`,
        }),
        INVALID,
      ],
      [
        'a token whose sub is not an account id',
        () => ({ authorization: `Bearer ${craftJwt(claims({ sub: 'admin' }), { secret: ourSecret() })}` }),
        INVALID,
      ],
    ];

    it.each(refusals)(
      'answers 401 UNAUTHENTICATED with WWW-Authenticate for %s',
      async (_label, headers, challenge) => {
        const res = await t.http.get(ME, { headers: headers() });

        expectProblem(res, 401, 'UNAUTHENTICATED', ME);
        expect(res.headers.get('www-authenticate')).toBe(challenge);
        const line = await t.logs.completion(res.headers.get('x-request-id')!);
        expect(line).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
        expect(line.accountId).toBeUndefined();
      },
    );

    it('says so when the token has expired, so the client knows to get a new one', async () => {
      const expired = craftJwt(claims({ iat: now() - 3600, exp: now() - 60 }), { secret: ourSecret() });
      const res = await t.http.get(ME, { token: expired });

      expectProblem(res, 401, 'UNAUTHENTICATED', ME);
      expect(res.body.detail).toMatch(/expired/);
    });

    it('never writes a refused token to the log', async () => {
      const forged = craftJwt(claims(), { secret: 'y'.repeat(48) });
      const res = await t.http.get(ME, { token: forged });
      expect(res.status).toBe(401);
      await t.logs.completion(res.headers.get('x-request-id')!);

      expect(JSON.stringify(t.logs.lines)).not.toContain(forged);
    });

    it('refuses a token whose payload is not JSON with 401 logged as a refused credential, not a 500 (issue 5, defect 3)', async () => {
      const res = await t.http.get(ME, { token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e25vdCBqc29u.AAAA' });
      expectProblem(res, 401, 'UNAUTHENTICATED', ME);
      expect(res.headers.get('www-authenticate')).toBe(INVALID);
      const requestId = res.headers.get('x-request-id')!;
      await t.logs.completion(requestId);
      expect(t.logs.forRequest(requestId).map((l) => [l.level, l.msg])).toContainEqual(['warn', 'request rejected']);
      expect(t.logs.forRequest(requestId).filter((l) => l.level === 'error')).toEqual([]);
    });

    it('never answers a 5xx to an arbitrary bearer token (fast-check over token segments)', async () => {
      const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');
      const segment = fc.oneof(
        fc.uint8Array({ maxLength: 48 }).map(b64),
        fc.json().map(b64),
        fc.constantFrom('{not json', 'null', '[]', '"x"', '{"alg":"HS256","typ":"JWT"}').map(b64),
        fc.stringMatching(/^[A-Za-z0-9\-._~+/]{0,20}$/),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), async (parts) => {
          const res = await t.http.get(ME, { headers: { authorization: `Bearer ${parts.join('.')}` } });
          expect(res.status).toBe(401);
        }),
        { numRuns: 150 },
      );
    });
  });
});
