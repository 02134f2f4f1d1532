import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

describe('the running app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers an unknown route with a ROUTE_NOT_FOUND problem', async () => {
    const res = await t.http.get('/nope');
    expectProblem(res, 404, 'ROUTE_NOT_FOUND', '/nope');
    const line = await t.logs.completion(res.body.requestId);
    expect(line).toMatchObject({ status: 404, route: 'unmatched', code: 'ROUTE_NOT_FOUND' });
  });
});
