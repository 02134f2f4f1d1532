import { Injectable } from '@nestjs/common';

/**
 * Whether this instance is draining. Set the moment shutdown begins, so readiness
 * turns 503 and the load balancer stops sending traffic before the server closes.
 */
@Injectable()
export class LifecycleService {
  private draining = false;

  get isShuttingDown(): boolean {
    return this.draining;
  }

  beginShutdown(): void {
    this.draining = true;
  }
}
