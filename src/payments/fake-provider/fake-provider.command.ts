import { loadConfigOrExit } from '../../config/config.schemas';
import { createRootLogger } from '../../platform/logging/root.logger';
import { startFakeProvider } from './fake-provider.server';

/**
 * `npm run start:fake-payments`: the stand-in payments provider on FAKE_PAYMENTS_PORT
 * (default 4010). One JSON log line per request, with the X-Request-Id it received.
 * SIGTERM/SIGINT close it (pending slow answers are dropped, like a provider restart).
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createRootLogger(config).child({ component: 'fake-payments-provider' });
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
  const stop = (signal: string) => {
    logger.info({ signal }, 'fake payments provider stopping');
    void provider.close().then(() => {
      logger.flush();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`fake payments provider failed to start: ${String((error as Error)?.message ?? error)}\n`);
    process.exit(1);
  });
}
