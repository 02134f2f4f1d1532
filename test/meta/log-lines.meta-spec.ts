import pino from 'pino';
import { LogCapture } from '../support/log-capture.support';
import { repeatedKeys, takeLinesWithRepeatedKeys } from '../support/log-keys.support';

/** The harness rule of issue 17, item 10: no log line, from any test, may repeat a JSON key. */
describe('the log-line check every test file runs (test/support/log-keys.setup.ts)', () => {
  it('finds a key repeated in one object, at any depth, and nothing else', () => {
    expect(repeatedKeys('{"a":1,"b":2,"a":3}')).toEqual(['a']);
    expect(repeatedKeys('{"err":{"code":"X","stack":"s","code":"Y"}}')).toEqual(['code']);
    // The same key in sibling objects, in arrays, or inside string values is no repeat.
    expect(repeatedKeys('{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}],"d":"\\"id\\":{,\\"id\\""}')).toEqual([]);
    expect(repeatedKeys('{"msg":"a \\\\"}","x":1}')).toEqual([]);
  });

  it('catches what pino writes when a child binding and a line share a key, from a captured app log', () => {
    const logs = new LogCapture();
    pino(logs)
      .child({ dependency: 'payments' })
      .info({ dependency: 'payments', attempts: 1 }, 'payments provider call');
    pino(logs).child({ requestId: 'r1' }).info({ requestId: 'r1' }, 'request aborted by client');
    pino(logs).info({ requestId: 'r2', route: '/x' }, 'request completed');
    const found = takeLinesWithRepeatedKeys();
    expect(found).toHaveLength(2);
    expect(found[0]).toContain('repeated "dependency"');
    expect(found[1]).toContain('repeated "requestId"');
  });
});
