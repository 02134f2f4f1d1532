import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Authenticated } from '../auth/authenticated.decorator';
import { CurrentAccount } from '../auth/current-account.decorator';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import { RateLimit } from '../platform/edge/rate-limit/rate-limit.guard';
import { RequestBudget } from '../platform/edge/http/request.deadline';
import { BusinessFlow } from '../platform/edge/http/business-flow.decorator';
import { Idempotent, IdempotencyKey } from '../platform/edge/idempotency/idempotency.decorator';
import type { IdempotencyHandle } from '../platform/edge/idempotency/idempotency.interceptor';
import {
  createOrderBodySchema,
  listOrdersQuerySchema,
  orderIdSchema,
  orderPageSchema,
  orderSchema,
  type CreateOrderInput,
  type ListOrdersQuery,
  type OrderPage,
  type OrderView,
} from './orders.schemas';
import { OrdersService } from './orders.service';

/** The caller's orders. Every route needs a bearer token; another account's order is a 404. */
@ApiTags('orders')
@Controller('v1/orders')
@Authenticated()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @HttpCode(201)
  // Per account (the class's bearer guard runs first): RATE_LIMIT_ORDERS_PER_ACCOUNT a window.
  @RateLimit('orders')
  @BusinessFlow('order')
  @Idempotent()
  @RequestBudget((config) => config.orders.requestDeadlineMs)
  @ApiOperation({
    summary: 'Place and pay an order',
    description:
      'Stock is reserved and the order created in one transaction; the payment provider is charged after it ' +
      'commits, under the order as its idempotency key (never twice). A provider timeout answers 504 with the ' +
      '`orderId` of an order kept `payment_pending` and settled later by the reconciliation. 201 means `paid`: ' +
      'any other end state (also for a retry with the same key) answers its problem with `orderId` and `orderStatus`.',
  })
  @ApiCreatedResponse({ description: 'The order, paid.', standardSchema: orderSchema })
  @ApiProblems(
    'ACCOUNT_NOT_FOUND',
    'PRODUCT_NOT_FOUND',
    'PRODUCT_DISCONTINUED',
    'OUT_OF_STOCK',
    'ORDER_CURRENCY_MISMATCH',
    'PAYMENT_DECLINED',
    'PAYMENT_METHOD_INVALID',
    'PAYMENT_PROVIDER_ERROR',
    'PAYMENT_PROVIDER_TIMEOUT',
    'DEADLINE_EXCEEDED',
    'ORDER_NEEDS_ATTENTION',
  )
  create(
    @CurrentAccount() accountId: string,
    @Body({ schema: createOrderBodySchema }) body: CreateOrderInput,
    @IdempotencyKey() idempotency: IdempotencyHandle,
    @Req() request: FastifyRequest,
  ): Promise<OrderView> {
    return this.orders.create(accountId, body, { idempotency, requestId: String(request.id) });
  }

  @Get()
  @ApiOperation({
    summary: "The caller's orders, newest first, one page at a time (keyset: follow `nextCursor`)",
    description:
      'Keyset pages of at most `limit` orders (1–100); pass the previous page’s `nextCursor` as `cursor`. ' +
      'Only the caller’s own orders are listed.',
  })
  @ApiOkResponse({ description: 'One page; `nextCursor` is null on the last.', standardSchema: orderPageSchema })
  @ApiProblems('VALIDATION_FAILED')
  list(
    @CurrentAccount() accountId: string,
    @Query({ schema: listOrdersQuerySchema }) query: ListOrdersQuery,
  ): Promise<OrderPage> {
    return this.orders.list(accountId, query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperation({
    summary: "One of the caller's orders (another account's is a 404)",
    description:
      'The order with its lines and payment status (`payment_pending` until the reconciliation settles it). ' +
      'Another account’s order answers 404, exactly like a missing one.',
  })
  @ApiOkResponse({ description: 'The order.', standardSchema: orderSchema })
  @ApiProblems('VALIDATION_FAILED', 'ORDER_NOT_FOUND')
  get(@CurrentAccount() accountId: string, @Param('id', { schema: orderIdSchema }) id: string): Promise<OrderView> {
    return this.orders.get(accountId, id);
  }
}
