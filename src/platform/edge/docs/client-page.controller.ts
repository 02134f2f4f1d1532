import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../kernel/errors/app.errors';

/** Where the page lives: `GET /demo`. Outside production only (AppModule mounts it). */
export const CLIENT_PAGE_PATH = '/demo';

// Depth 4 from the repository root both as src/platform/edge/docs (tests) and dist/platform/edge/docs (built).
const ROOT = resolve(__dirname, '..', '..', '..', '..');
/** The built client and page (`npm run build`: client/ → dist/client/, ES modules). */
const CLIENT_DIR = join(ROOT, 'dist', 'client');
/** The one dependency the client loads in a browser, an ES module with no imports of its own. */
const VENDOR: Record<string, string> = {
  'openapi-fetch.js': require.resolve('openapi-fetch').replace(/index\.cjs$/, 'index.mjs'),
};
const SAFE_ASSET = /^(?:page\/)?[a-z0-9][a-z0-9.-]*\.js$/;

/**
 * The page that fails gracefully (client/page/), built on the typed client: served by the development
 * stack so that `npm start` shows the client's behaviour in a browser; never mounted in production
 * (a demo page is not part of the API). Its scripts come from dist/client only, by an allow-list of
 * names; its import map (the bare `openapi-fetch` specifier) is allowed by hash in the page's CSP,
 * so no inline script other than that one may run.
 */
@ApiExcludeController()
@Controller(CLIENT_PAGE_PATH.slice(1))
export class ClientPageController {
  private page?: { html: string; csp: string };

  @Get()
  index(@Res({ passthrough: true }) reply: FastifyReply): string {
    const page = (this.page ??= loadPage());
    void reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', page.csp);
    return page.html;
  }

  @Get('vendor/:file')
  vendor(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    const path = VENDOR[file];
    if (!path) throw new AppError('ROUTE_NOT_FOUND');
    return script(reply, path);
  }

  @Get('page/:file')
  pageScript(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    return clientScript(`page/${file}`, reply);
  }

  @Get(':file')
  clientModule(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    return clientScript(file, reply);
  }
}

/** One built module of dist/client, by a name that cannot leave that folder. */
function clientScript(name: string, reply: FastifyReply): string {
  const file = join(CLIENT_DIR, name);
  if (!SAFE_ASSET.test(name) || !existsSync(file)) throw new AppError('ROUTE_NOT_FOUND');
  return script(reply, file);
}

function script(reply: FastifyReply, file: string): string {
  void reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache');
  return readFileSync(file, 'utf8');
}

function loadPage(): { html: string; csp: string } {
  const html = readFileSync(join(CLIENT_DIR, 'page', 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(importMap).digest('base64');
  const csp =
    `default-src 'self'; script-src 'self' 'sha256-${hash}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ` +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
  return { html, csp };
}
