import { z } from 'zod';
import { AppError } from '../platform/kernel/errors/app.errors';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';

/** The products feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const PRODUCTS_PROBLEM_TYPES = defineProblemTypes({
  PRODUCT_NOT_FOUND: {
    status: 404,
    title: 'Product not found',
    meaning: 'No product has this id.',
    cause: 'A wrong or stale product id.',
    action: 'List products with `GET /v1/products` to find a valid id. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'No product has this id.',
    extensions: { productId: z.guid().meta({ description: 'The id asked for.' }) },
  },
  PRODUCT_DISCONTINUED: {
    status: 410,
    title: 'Product discontinued',
    meaning: 'The product existed but is discontinued for good.',
    cause: 'A link or cart that still points at a retired product.',
    action: 'Remove the product from your data; it will not come back. Do not retry.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'This product is discontinued.',
    extensions: { productId: z.guid().meta({ description: 'The discontinued product.' }) },
  },
});

declare module '../platform/kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof PRODUCTS_PROBLEM_TYPES, true> {}
}

/** 404: no product has this id (the id is a validated UUID, so echoing it back is safe). */
export class ProductNotFoundError extends AppError {
  constructor(productId: string) {
    super('PRODUCT_NOT_FOUND', { detail: `No product has id ${productId}.`, extensions: { productId } });
  }
}

/** 410, not 404: the product existed and is gone for good, so clients should drop it rather than retry. */
export class ProductDiscontinuedError extends AppError {
  constructor(productId: string) {
    super('PRODUCT_DISCONTINUED', {
      detail: `Product ${productId} is discontinued and will not come back.`,
      extensions: { productId },
    });
  }
}
