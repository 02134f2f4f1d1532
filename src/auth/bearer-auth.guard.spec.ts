import type { ExecutionContext } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHmac } from 'node:crypto';
import type { AppConfig } from '../config/config.schemas';
import { AppError } from '../platform/kernel/errors/app.errors';
import { toProblem } from '../platform/edge/http/problem.factory';
import { AuthService } from './auth.service';
import type { CredentialsVerifier } from './auth.types';
import { BearerAuthGuard } from './bearer-auth.guard';

const SECRET = 'unit-test-secret-0123456789-abcdefghij';
const ACCOUNT_ID = '6f1d0f4b-7c21-4d36-9a8e-3f0c2a4e8a55';
const config = { auth: { jwtSecret: SECRET, jwtTtlSeconds: 900 } } as AppConfig;
const credentials: CredentialsVerifier = { verifyCredentials: async () => ACCOUNT_ID };

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (overrides: Record<string, unknown> = {}) => ({
  sub: ACCOUNT_ID,
  iat: now(),
  exp: now() + 600,
  iss: 'resilient-api',
  aud: 'resilient-api',
  ...overrides,
});
function craftJwt(payload: Record<string, unknown>, secret = SECRET, alg = 'HS256'): string {
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  if (alg === 'none') return `${input}.`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The slice of a Fastify request the guard reads and writes. */
type FakeRequest = { headers: { authorization?: string }; accountId?: string };
const contextFor = (request: FakeRequest) =>
  ({ switchToHttp: () => ({ getRequest: () => request }) }) as unknown as ExecutionContext;

describe('BearerAuthGuard', () => {
  const auth = new AuthService(new JwtService(), credentials, config);
  const guard = new BearerAuthGuard(auth);

  /** The errors carry no HTTP: the status and challenge come from the HTTP mapping. */
  const HTTP_REQUEST = { id: 'req-1', url: '/v1/accounts/me', method: 'GET' };

  async function refusal(authorization: string | undefined): Promise<AppError> {
    const request: FakeRequest = { headers: authorization === undefined ? {} : { authorization } };
    const error = await guard.canActivate(contextFor(request)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(request.accountId).toBeUndefined();
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it('lets a valid token through and records the account id on the request', async () => {
    const request: FakeRequest = { headers: { authorization: `Bearer ${craftJwt(claims())}` } };

    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);
    expect(request.accountId).toBe(ACCOUNT_ID);
  });

  it('accepts the tokens AuthService issues', async () => {
    const { accessToken } = await auth.issueToken('ann@example.com', 'whatever');
    const request: FakeRequest = { headers: { authorization: `bearer ${accessToken}` } };

    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);
    expect(request.accountId).toBe(ACCOUNT_ID);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', 'Basic YW5uOnB3'],
    ['a token with no scheme', craftJwt(claims())],
  ])('answers 401 with a plain Bearer challenge for %s', async (_label, header) => {
    const error = await refusal(header);

    const problem = toProblem(error, HTTP_REQUEST);
    expect(problem.body).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(problem.headers['www-authenticate']).toBe('Bearer realm="resilient-api"');
  });

  it.each([
    ['"Bearer" alone', 'Bearer'],
    ['a malformed token', 'Bearer not.a.jwt'],
    ['a token with a space', 'Bearer abc def'],
    ['an expired token', `Bearer ${craftJwt(claims({ exp: now() - 1 }))}`],
    ['a forged token (wrong secret)', `Bearer ${craftJwt(claims(), 'another-secret-0123456789-abcdefghijkl')}`],
    ['an alg: none token', `Bearer ${craftJwt(claims(), '', 'none')}`],
    ['a token of another issuer', `Bearer ${craftJwt(claims({ iss: 'evil' }))}`],
    ['a token without sub', `Bearer ${craftJwt(claims({ sub: undefined }))}`],
    ['a token whose sub is not a uuid', `Bearer ${craftJwt(claims({ sub: 42 }))}`],
  ])('answers 401 with error="invalid_token" for %s', async (_label, header) => {
    const error = await refusal(header);

    const problem = toProblem(error, HTTP_REQUEST);
    expect(problem.body).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(problem.headers['www-authenticate']).toBe('Bearer realm="resilient-api", error="invalid_token"');
  });
});
