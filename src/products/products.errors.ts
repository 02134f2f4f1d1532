import { z } from 'zod';
import { AppError } from '../platform/kernel/errors/app.errors';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';
import PROSE from './products.problems.json';

/** The products feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const PRODUCTS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  PRODUCT_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
    extensions: { productId: z.guid().meta({ description: 'The id asked for.' }) },
  },
  PRODUCT_DISCONTINUED: {
    status: 410,
    retryable: false,
    logLevel: 'info',
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
