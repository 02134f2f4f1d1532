import {
  CallHandler,
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  MiddlewareConsumer,
  Module,
  NestInterceptor,
  NestMiddleware,
  NestModule,
  PipeTransform,
  Post,
  Query,
  UseGuards,
  UseInterceptors,
  Body,
  Headers,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PinoLogger } from 'nestjs-pino';
import { Observable, map, throwError } from 'rxjs';
import { z } from 'zod';
import { SqlClient } from '../../src/platform/adapters/database/sql.client';
import { AppError } from '../../src/platform/kernel/errors/app.errors';
import { Deadline } from '../../src/platform/kernel/resilience/deadline.policy';

/**
 * Test-only routes that fail from every layer a request passes through, so the
 * e2e suite proves the one global filter catches each. The messages deliberately
 * contain things that must never reach a caller (SQL, hosts, paths).
 */
export const SECRET_MESSAGE =
  'connect to 10.0.0.7:5432 failed: SELECT password_hash FROM accounts at /srv/app/src/x.ts:12:3';

@Injectable()
class ThrowingGuard implements CanActivate {
  canActivate(): boolean {
    throw new Error(SECRET_MESSAGE);
  }
}

@Injectable()
class ThrowingPipe implements PipeTransform {
  transform(): never {
    throw new TypeError(SECRET_MESSAGE);
  }
}

@Injectable()
class ThrowingInterceptor implements NestInterceptor {
  intercept(): Observable<unknown> {
    throw new RangeError(SECRET_MESSAGE);
  }
}

@Injectable()
class StreamErrorInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map(() => {
        throw new Error(SECRET_MESSAGE);
      }),
    );
  }
}

@Injectable()
class RxThrowInterceptor implements NestInterceptor {
  intercept(): Observable<unknown> {
    return throwError(() => new Error(SECRET_MESSAGE));
  }
}

@Injectable()
class ThrowingMiddleware implements NestMiddleware {
  use(): void {
    throw new Error(SECRET_MESSAGE);
  }
}

// Test-only routes are no part of the API: kept out of the served document (their errors are still checked as problems).
@ApiExcludeController()
@Controller('__test__')
class FaultFixturesController {
  // Statements go through the SQL seam, as every repository's do.
  constructor(
    private readonly db: SqlClient,
    private readonly logger: PinoLogger,
  ) {}

  /** Logs through nestjs-pino from inside a handler, with secrets that must be redacted. */
  @Get('log')
  async log(): Promise<{ ok: true }> {
    await new Promise((resolve) => setImmediate(resolve));
    this.logger.info(
      { password: 'hunter2', user: { password: 'hunter3', accessToken: 'eyJ.secret' }, paymentToken: 'tok_ok' },
      'fixture log',
    );
    return { ok: true };
  }

  @Get('controller')
  controller(): never {
    throw new Error(SECRET_MESSAGE);
  }

  @Get('async')
  async asyncRejection(): Promise<never> {
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error(SECRET_MESSAGE);
  }

  @Get('string')
  string(): never {
    throw SECRET_MESSAGE;
  }

  @Get('null')
  nothing(): never {
    throw null;
  }

  @Get('object')
  object(): never {
    throw { message: SECRET_MESSAGE, sql: 'SELECT 1' };
  }

  @Get('guard')
  @UseGuards(ThrowingGuard)
  guarded(): string {
    return 'unreachable';
  }

  @Get('pipe')
  piped(@Query('x', ThrowingPipe) x: string): string {
    return x;
  }

  @Get('interceptor')
  @UseInterceptors(ThrowingInterceptor)
  intercepted(): string {
    return 'unreachable';
  }

  @Get('interceptor-stream')
  @UseInterceptors(StreamErrorInterceptor)
  streamed(): string {
    return 'the interceptor fails on the way out';
  }

  @Get('interceptor-rx')
  @UseInterceptors(RxThrowInterceptor)
  rx(): string {
    return 'unreachable';
  }

  @Get('middleware')
  middleware(): string {
    return 'unreachable';
  }

  @Get('sql')
  async sql(): Promise<unknown> {
    return this.db.query('SELECT * FROM no_such_table WHERE secret = $1', ['hunter2']);
  }

  /**
   * A query that takes a while, so a test can kill its backend mid-flight. It has a budget of its
   * own (an explicit `deadline` replaces the request's), so a client that hangs up does not cancel
   * it: the handler runs on after the hang-up, as a test of the load-shedding slot needs.
   */
  @Get('slow-query')
  async slowQuery(): Promise<unknown> {
    return this.db.query("SELECT pg_sleep(3), 'slow-query-marker' AS marker", [], {
      deadline: Deadline.after(30_000),
    });
  }

  /** A slow query under the request's deadline (the request context): a client that hangs up cancels it, and the handler then fails. */
  @Get('slow-query-deadline')
  async slowQueryDeadline(): Promise<unknown> {
    return this.db.query("SELECT pg_sleep(10), 'slow-deadline-marker' AS marker");
  }

  /** A query the statement_timeout cancels. */
  @Get('runaway-query')
  async runawayQuery(): Promise<unknown> {
    return this.db.query('SELECT pg_sleep(60)');
  }

  @Get('app-error')
  appError(): never {
    throw new AppError('PRODUCT_DISCONTINUED', { cause: new Error(SECRET_MESSAGE) });
  }

  @Get('app-error-5xx')
  appError5xx(): never {
    throw new AppError('DEPENDENCY_UNAVAILABLE', { detail: SECRET_MESSAGE, cause: new Error(SECRET_MESSAGE) });
  }

  @Post('echo')
  echo(
    @Body({
      schema: z.strictObject({
        name: z.string().min(1),
        items: z.array(z.object({ quantity: z.number().int().min(1) })).min(1),
      }),
    })
    body: unknown,
  ): unknown {
    return body;
  }

  @Get('header')
  header(@Headers('x-secret') secret: string | undefined): { ok: boolean } {
    return { ok: secret === undefined };
  }
}

@Module({ controllers: [FaultFixturesController], providers: [ThrowingGuard, ThrowingPipe] })
export class FaultFixturesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ThrowingMiddleware).forRoutes('__test__/middleware');
  }
}
