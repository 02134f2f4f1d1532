import { takeLinesWithRepeatedKeys } from './log-keys.support';

/**
 * Runs in every test file (jest.config.js `setupFilesAfterEnv`): a test during which any log line
 * repeated a JSON key fails, and so does a file whose lines written after its last test
 * (closing apps, stopping processes) did (issue 17, item 10).
 */
const failOnRepeatedKeys = () => {
  const lines = takeLinesWithRepeatedKeys();
  if (lines.length > 0) {
    throw new Error(`log lines with a repeated JSON key (strict consumers drop them):\n${lines.join('\n')}`);
  }
};

afterEach(failOnRepeatedKeys);
afterAll(failOnRepeatedKeys);
