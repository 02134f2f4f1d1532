import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import {
  listProductsQuerySchema,
  productIdSchema,
  productPageSchema,
  productSchema,
  type ListProductsQuery,
  type ProductPage,
  type ProductView,
} from './products.schemas';
import { ProductsService } from './products.service';

/** The public, read-only catalog. Validation happens in the schemas; the service never sees HTTP. */
@ApiTags('products')
@Controller('v1/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Get()
  @ApiOperation({
    summary: 'List products in sku order, one page at a time',
    description:
      'Keyset pagination: follow `nextCursor` until it is `null`. Every product appears exactly once across the pages, ' +
      'discontinued ones included (with `status: "discontinued"`). Unknown query parameters are rejected.',
  })
  @ApiOkResponse({
    description: 'One page of products; `nextCursor` is null on the last.',
    standardSchema: productPageSchema,
  })
  @ApiProblems('VALIDATION_FAILED')
  list(@Query({ schema: listProductsQuerySchema }) query: ListProductsQuery): Promise<ProductPage> {
    return this.products.list(query.limit, query.cursor?.afterSku);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One product',
    description: 'Served from a cache when warm, and from the database when the cache is down. 410 once discontinued.',
  })
  @ApiOkResponse({ description: 'The product (active; a discontinued one is a 410).', standardSchema: productSchema })
  @ApiProblems('VALIDATION_FAILED', 'PRODUCT_NOT_FOUND', 'PRODUCT_DISCONTINUED')
  get(@Param('id', { schema: productIdSchema }) id: string): Promise<ProductView> {
    return this.products.get(id);
  }
}
