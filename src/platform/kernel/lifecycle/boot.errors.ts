/** A boot failure that retrying cannot fix, with a message fit for an operator. */
export class BootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootError';
  }
}
