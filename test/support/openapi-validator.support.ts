import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

const DOCUMENT_ID = 'openapi.json';

interface ResponseObject {
  headers?: Record<string, { $ref?: string; required?: boolean; schema?: object }>;
  content?: Record<string, { schema?: object }>;
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, ResponseObject>;
  pointer: string;
}

const byDocument = new Map<string, OpenApiValidator>();

/** What a response looked like, as the validator needs it. */
export interface ObservedResponse {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Checks a response against the OpenAPI document the app serves: the status is documented
 * for the operation, the content type is one it lists, the body matches that schema
 * (JSON Schema 2020-12, ajv) and every required header is there and well-formed. A
 * response to a request that matches no operation (an unknown route, a test-only fixture)
 * must still be a valid problem when it is an error. So a drift between the code and the
 * document fails the test that saw it, whatever that test was about.
 */
export class OpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly routes: Route[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: any) {
    // strict off: the document carries OpenAPI keywords (discriminator, example) ajv does not know.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    // Formats the schemas use for documentation only.
    this.ajv.addFormat('password', true);
    this.ajv.addSchema(document, DOCUMENT_ID);
    for (const [template, item] of Object.entries<Record<string, any>>(document.paths ?? {})) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}/]+\}/g, '[^/]+')}$`);
      for (const [method, operation] of Object.entries<any>(item)) {
        if (!operation?.responses) continue;
        this.routes.push({
          method: method.toUpperCase(),
          template,
          pattern,
          responses: operation.responses,
          pointer: `#/paths/${escapePointer(template)}/${method}`,
        });
      }
    }
    // Compiled now, once per document, not inside the first request a test happens to time.
    for (const route of this.routes) {
      for (const [status, response] of Object.entries(route.responses)) {
        for (const type of Object.keys(response.content ?? {}))
          this.validatorAt(`${route.pointer}/responses/${status}/content/${escapePointer(type)}/schema`);
      }
    }
    this.validatorAt('#/components/schemas/Problem');
  }

  /**
   * One validator per served document (the same for every app a Jest worker boots), so the
   * schemas are compiled once per worker rather than once per test file.
   */
  static for(document: { openapi?: string }): OpenApiValidator {
    const key = JSON.stringify(document);
    let validator = byDocument.get(key);
    if (!validator) byDocument.set(key, (validator = new OpenApiValidator(document)));
    return validator;
  }

  /** @returns every way `response` breaks the document (empty when it conforms). */
  problems(response: ObservedResponse): string[] {
    // The path as it went out: fetch normalizes it (a trailing space is dropped, `é` percent-encoded).
    const path = new URL(response.path, 'http://api.invalid').pathname;
    const route = this.routes.find((r) => r.method === response.method && r.pattern.test(path));
    if (!route) return response.status >= 400 ? this.check('#/components/schemas/Problem', response.body) : [];
    const documented = route.responses[String(response.status)] ?? route.responses.default;
    if (!documented) {
      const statuses = Object.keys(route.responses).join(', ');
      return [
        `${route.method} ${route.template} answered ${response.status}, which it does not document (${statuses})`,
      ];
    }
    const problems: string[] = [];
    const statusPointer = `${route.pointer}/responses/${route.responses[String(response.status)] ? response.status : 'default'}`;
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const definition = header.$ref ? this.resolve(header.$ref) : header;
      const value = response.headers.get(name);
      if (value === null) {
        if (definition.required) problems.push(`missing required header ${name}`);
        continue;
      }
      if (definition.schema) {
        const headerPointer = header.$ref
          ? `${header.$ref}/schema`
          : `${statusPointer}/headers/${escapePointer(name)}/schema`;
        problems.push(...this.check(headerPointer, value).map((p) => `header ${name}: ${p}`));
      }
    }
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0].trim();
    const content = documented.content ?? {};
    if (Object.keys(content).length === 0) return problems;
    if (!content[contentType]) {
      problems.push(`content type ${contentType || '(none)'} is not documented (${Object.keys(content).join(', ')})`);
      return problems;
    }
    if (content[contentType].schema) {
      const schemaPointer = `${statusPointer}/content/${escapePointer(contentType)}/schema`;
      problems.push(...this.check(schemaPointer, response.body));
    }
    return problems;
  }

  private validatorAt(pointer: string): ValidateFunction | undefined {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.getSchema(`${DOCUMENT_ID}${pointer}`);
      if (validate) this.compiled.set(pointer, validate);
    }
    return validate;
  }

  private check(pointer: string, value: unknown): string[] {
    const validate = this.validatorAt(pointer);
    if (!validate) return [`the document has no schema at ${pointer}`];
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '(root)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
  }

  private resolve(ref: string): any {
    return ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node, segment) => node?.[segment.replaceAll('~1', '/').replaceAll('~0', '~')], this.document);
  }
}

/**
 * @throws Error naming the request, the status and every mismatch, when the response breaks the document.
 */
export function expectDocumented(validator: OpenApiValidator, response: ObservedResponse): void {
  const problems = validator.problems(response);
  if (problems.length === 0) return;
  throw new Error(
    `${response.method} ${response.path} → ${response.status} does not match the OpenAPI document:\n` +
      `  - ${problems.join('\n  - ')}\n  body: ${response.text.slice(0, 500)}`,
  );
}
