import { startFakeProvider } from './payments/fake-provider/fake-provider.server';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';

/**
 * `npm run start:fake-payments` (`node dist-dev/fake-payments.command.js`): the stand-in payments
 * provider (src/payments/fake-provider/) on FAKE_PAYMENTS_PORT (default 4010). One JSON log line
 * per request, with the X-Request-Id it received. SIGTERM/SIGINT close it (pending slow answers are
 * dropped, like a provider restart). Boots like every process: runEntrypoint (config validated
 * first, one stderr line and exit 1 on failure). Development and tests only: built by
 * tsconfig.dev.json into dist-dev/, never into dist/ nor the production image.
 */
void runEntrypoint({
  failurePrefix: 'fake payments provider failed to start',
  failureLog: 'fake payments provider failed to start',
  async run({ config, logger: root }) {
    const logger = root.child({ component: 'fake-payments-provider' });
    const provider = await startFakeProvider({
      port: config.payments.fakePort,
      host: '0.0.0.0',
      slowTokenDelayMs: config.payments.fakeSlowMs,
      log: ({ msg, level: _level, time: _time, ...fields }) => logger.info(fields, String(msg)),
    });
    logger.info(
      { port: provider.port, slowTokenDelayMs: config.payments.fakeSlowMs },
      'fake payments provider listening',
    );
    return {
      async stop(reason: string) {
        logger.info({ signal: reason }, 'fake payments provider stopping');
        await provider.close();
        logger.flush();
        process.exit(0);
      },
    };
  },
});
