import { registerProblemCatalog } from '../../src/problem-types.catalog';

/**
 * Runs before every test file (jest.config.js `setupFiles`): builds the problem-type registry from
 * its one list, as every entry point does first thing, so a unit test that throws a feature's
 * error without booting a process finds its type. Registering nothing else keeps the rule visible:
 * a code missing from PROBLEM_CATALOG fails here as it would in production.
 */
registerProblemCatalog();
