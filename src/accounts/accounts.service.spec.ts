import type { PinoLogger } from 'nestjs-pino';
import type { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { AccountNotFoundError } from './accounts.errors';
import { PasswordService } from './password.service';

const ACCOUNT_ID = '6f1d0f4b-7c21-4d36-9a8e-3f0c2a4e8a55';
const logger = { setContext: () => undefined, info: () => undefined } as unknown as PinoLogger;

describe('AccountsService.verifyCredentials', () => {
  const passwords = new PasswordService();
  let stored: string;
  let lookedUp: string[];
  let service: AccountsService;

  beforeAll(async () => {
    stored = await passwords.hash('correct horse battery');
  });
  beforeEach(() => {
    lookedUp = [];
    const repository = {
      findCredentialsByEmail: async (email: string) => {
        lookedUp.push(email);
        return email === 'ann@example.com' ? { id: ACCOUNT_ID, passwordHash: stored } : null;
      },
      findById: async () => null,
    } as unknown as AccountsRepository;
    service = new AccountsService(repository, passwords, logger);
  });

  it('answers the account id for the right password, looking the email up as it is stored', async () => {
    await expect(service.verifyCredentials('  Ann@Example.COM ', 'correct horse battery')).resolves.toBe(ACCOUNT_ID);
    expect(lookedUp).toEqual(['ann@example.com']);
  });

  it('answers undefined for a wrong password', async () => {
    await expect(service.verifyCredentials('ann@example.com', 'wrong')).resolves.toBeUndefined();
  });

  it('still runs scrypt for an unknown email, so it answers no faster than for a wrong password', async () => {
    const dummy = jest.spyOn(passwords, 'verifyNothing');

    await expect(service.verifyCredentials('nobody@example.com', 'correct horse battery')).resolves.toBeUndefined();
    expect(dummy).toHaveBeenCalledWith('correct horse battery', undefined);
    dummy.mockRestore();
  });

  it('throws AccountNotFoundError (404) for an account that no longer exists', async () => {
    await expect(service.getById(ACCOUNT_ID)).rejects.toBeInstanceOf(AccountNotFoundError);
  });
});
