/**
 * What auth needs from the feature that owns accounts, declared here so that auth never
 * imports accounts: every protected feature (accounts, orders, reports) depends on auth
 * for the bearer guard, so auth depending back on accounts would be a cycle between
 * feature folders (.dependency-cruiser.cjs, no-circular-between-features).
 * AccountsModule provides the implementation (AccountsService) under this class as token.
 */
export abstract class CredentialsVerifier {
  /**
   * The id of the account when `email` and `password` match one, otherwise `undefined`.
   * Must take comparable time whether or not the email exists, so timing does not
   * reveal which addresses have accounts. `signal` is the request deadline's: when it aborts
   * before the password could be checked, the call throws DeadlineExceededError (504).
   */
  abstract verifyCredentials(email: string, password: string, signal?: AbortSignal): Promise<string | undefined>;
}
