import { AppError } from '../platform/errors/app.errors';

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
