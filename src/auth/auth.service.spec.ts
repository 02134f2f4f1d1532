import { JwtService } from '@nestjs/jwt';
import type { AppConfig } from '../config/config.schemas';
import fc from 'fast-check';
import { toProblem } from '../platform/edge/http/problem.factory';
import { InvalidBearerTokenError, InvalidCredentialsError } from './auth.errors';
import { AuthService } from './auth.service';
import type { CredentialsVerifier } from './auth.types';

const ACCOUNT_ID = '6f1d0f4b-7c21-4d36-9a8e-3f0c2a4e8a55';
const config = { auth: { jwtSecret: 'unit-test-secret-0123456789-abcdefghij', jwtTtlSeconds: 600 } } as AppConfig;

describe('AuthService', () => {
  const jwt = new JwtService();
  const verifier = (result: string | undefined): CredentialsVerifier => ({ verifyCredentials: async () => result });

  it('issues an HS256 token for the account, valid for the configured lifetime', async () => {
    const auth = new AuthService(jwt, verifier(ACCOUNT_ID), config);

    const token = await auth.issueToken('ann@example.com', 'pw');

    expect(token).toMatchObject({ tokenType: 'Bearer', expiresIn: 600 });
    const { header, payload } = jwt.decode(token.accessToken, { complete: true }) as {
      header: { alg: string };
      payload: { sub: string; iat: number; exp: number; iss: string; aud: string };
    };
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: ACCOUNT_ID, iss: 'resilient-api', aud: 'resilient-api' });
    expect(payload.exp - payload.iat).toBe(600);
    await expect(auth.verifyToken(token.accessToken)).resolves.toBe(ACCOUNT_ID);
  });

  it('refuses bad credentials with InvalidCredentialsError (401, WWW-Authenticate)', async () => {
    const auth = new AuthService(jwt, verifier(undefined), config);

    const error = await auth.issueToken('ann@example.com', 'wrong').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InvalidCredentialsError);
    // The error carries no HTTP; the HTTP mapping gives it its status and challenge.
    const problem = toProblem(error, { id: 'req-1', url: '/v1/auth/token', method: 'POST' });
    expect(problem.body).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
      detail: 'The email or password is incorrect.',
    });
    expect(problem.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('refuses a token signed with another secret, even one it issued under an old secret', async () => {
    const before = new AuthService(jwt, verifier(ACCOUNT_ID), config);
    const { accessToken } = await before.issueToken('ann@example.com', 'pw');
    const rotated = { auth: { ...config.auth, jwtSecret: 'rotated-secret-0123456789-abcdefghijkl' } } as AppConfig;
    const after = new AuthService(jwt, verifier(ACCOUNT_ID), rotated);

    await expect(after.verifyToken(accessToken)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('AuthService.verifyToken under arbitrary input (fast-check)', () => {
  const auth = new AuthService(new JwtService(), { verifyCredentials: async () => undefined }, config);
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');
  /** A segment: raw bytes, arbitrary text, or JSON-ish text (almost-objects, scalars, arrays), base64url-encoded or not. */
  const segment = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map(b64),
    fc.string({ maxLength: 40 }).map(b64),
    fc.json().map(b64),
    fc.constantFrom('{not json', '{"alg":"HS256"', 'null', '"x"', '[]', '123', '{"alg":"HS256","typ":"JWT"}').map(b64),
    fc.string({ maxLength: 20 }),
  );

  it('refuses every malformed token with InvalidBearerTokenError, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), async (parts) => {
        const error = await auth.verifyToken(parts.join('.')).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidBearerTokenError);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses the token whose payload is `{not json` (issue 5, defect 3)', async () => {
    await expect(auth.verifyToken('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e25vdCBqc29u.AAAA')).rejects.toBeInstanceOf(
      InvalidBearerTokenError,
    );
  });
});
