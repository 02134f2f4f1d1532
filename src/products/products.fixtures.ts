import type { ProductStatus } from './product.entity';
import type { ProductInput } from './products.repository';

type Row = [sku: string, name: string, priceCents: number, currency: string, stock: number, status: ProductStatus];

// prettier-ignore
const ROWS: Row[] = [
  ['RA-BAG-001',     'Circuit-breaker tote bag',                         1800,    'EUR', 120,   'active'],
  ['RA-BAG-002',     'Backoff-and-jitter backpack',                      6900,    'EUR', 35,    'active'],
  ['RA-BOOK-001',    'Release It! (paperback)',                          3900,    'EUR', 60,    'active'],
  ['RA-BOOK-002',    'Site Reliability Engineering (hardcover)',         4900,    'EUR', 24,    'active'],
  ['RA-BOOK-003',    'Designing Data-Intensive Applications',            4500,    'EUR', 0,     'active'],
  ['RA-CAP-001',     'Idempotency-Key cap',                              2200,    'EUR', 80,    'active'],
  ['RA-CARD-001',    'Runbook flash cards',                              1500,    'EUR', 200,   'active'],
  ['RA-DESK-001',    'Pager-duty desk mat',                              2900,    'EUR', 45,    'active'],
  ['RA-HOOD-001',    'Graceful-shutdown hoodie',                         5900,    'EUR', 30,    'active'],
  ['RA-HOOD-002',    'Readiness-probe zip hoodie',                       6400,    'EUR', 12,    'active'],
  ['RA-KEY-001',     'Retry-After keyboard keycap set',                  3400,    'EUR', 50,    'active'],
  ['RA-LAMP-001',    'Status-page lamp (green/red)',                     4200,    'EUR', 18,    'active'],
  ['RA-MUG-001',     'Never-500 mug',                                    1200,    'EUR', 150,   'active'],
  ['RA-MUG-002',     'Problem+JSON travel mug',                          1900,    'EUR', 75,    'active'],
  ['RA-MUG-003',     'Blue-green espresso cups (pair)',                  2400,    'EUR', 0,     'active'],
  ['RA-NOTE-001',    'Postmortem notebook',                              900,     'EUR', 300,   'active'],
  ['RA-PEN-001',     'Canary-yellow pen',                                300,     'EUR', 500,   'active'],
  ['RA-POSTER-001',  'Fix-map poster (A2)',                              1400,    'EUR', 90,    'active'],
  ['RA-SOCK-001',    'Keep-alive socks',                                 1100,    'EUR', 140,   'active'],
  ['RA-STICKER-001', 'HTTP 410 sticker pack',                            500,     'EUR', 400,   'active'],
  ['RA-STICKER-002', 'Load-shedding sticker pack',                       500,     'EUR', 380,   'active'],
  ['RA-TEE-001',     'Resilient tee',                                    2500,    'EUR', 100,   'active'],
  ['RA-TEE-002',     'Keyset-pagination tee',                            2500,    'EUR', 40,    'active'],
  ['RA-TEE-003',     'Offset-pagination tee (retired: it skipped rows)', 2500,    'EUR', 0,     'discontinued'],
  ['RA-USB-001',     'Chaos-monkey USB stick',                           1700,    'USD', 25,    'active'],
  ['RA-WATCH-001',   'Uptime wristwatch',                                12900,   'USD', 5,     'discontinued'],
];

/**
 * The demo catalog loaded by `npm run db:seed`: enough products for two pages at the
 * default page size of 20, a few out of stock, and two discontinued (the 410 path).
 * Keyed by sku, so editing a row here and seeding again updates it in place.
 */
export const DEMO_PRODUCTS: readonly ProductInput[] = ROWS.map(([sku, name, priceCents, currency, stock, status]) => ({
  sku,
  name,
  priceCents,
  currency,
  stock,
  status,
}));
