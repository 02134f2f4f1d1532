/**
 * The page that fails gracefully, built on the typed client (../index.ts). No framework: a few
 * functions over the DOM of index.html and localStorage. What it shows when things go wrong is
 * the article's advice to the people who call an API:
 * - a short, friendly message, with the request id to quote and a "Try again" button (never a stack,
 *   a status code alone or a raw body);
 * - the last good catalog from a local cache, with a visible "saved data" note, when a refresh fails;
 * - the order form's draft kept across reloads (localStorage), cleared once the order is placed;
 * - a report request made while the API cannot be reached queued locally and sent when it is back
 *   (checked every few seconds and on the browser's `online` event).
 * What it stores holds no token (the session's token is in sessionStorage) and no card data: only
 * product ids, quantities and the demo's test payment tokens.
 */
import { createClient, type AttemptEvent, type ProblemError } from '../index.js';

const STORE = {
  token: 'ra.token',
  catalog: 'ra.catalog',
  draft: 'ra.orderDraft',
  outbox: 'ra.reportOutbox',
} as const;
/** How often a page with queued reports checks whether the API is back (ms). */
const OUTBOX_INTERVAL_MS = 2_000;

interface Product {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
  status: string;
}
interface SavedCatalog {
  savedAt: string;
  items: Product[];
}
interface ReportRequest {
  type: 'sales-summary';
  from: string;
  to: string;
  queuedAt: string;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const read = <T>(storage: Storage, key: string): T | undefined => {
  try {
    const text = storage.getItem(key);
    return text === null ? undefined : (JSON.parse(text) as T);
  } catch {
    return undefined;
  }
};
const write = (storage: Storage, key: string, value: unknown) => storage.setItem(key, JSON.stringify(value));

/** The last attempts, for the browser console: what a support engineer asks for first. */
const attempts: AttemptEvent[] = [];
const api = createClient({
  baseUrl: location.origin,
  token: () => sessionStorage.getItem(STORE.token) ?? undefined,
  maxAttempts: 3,
  deadlineMs: 6_000,
  onEvent: (event) => {
    attempts.push(event);
    if (attempts.length > 50) attempts.shift();
    console.debug('api attempt', event);
  },
});

// ---- messages --------------------------------------------------------------------------------

/** A sentence a shopper understands, chosen by the problem's code and status; never the raw body. */
function friendly(error: ProblemError<Partial<{ code: string }>>, doing: string): { title: string; text: string } {
  switch (error.code) {
    case 'CLIENT_NETWORK_ERROR':
    case 'CLIENT_DEADLINE_EXCEEDED':
      return {
        title: `We could not ${doing}.`,
        text: 'The shop cannot be reached right now; please try again in a moment.',
      };
    case 'PAYMENT_DECLINED':
      return { title: 'Your card was declined.', text: 'Nothing was charged. Please use another card.' };
    case 'OUT_OF_STOCK':
      return { title: 'Not enough stock.', text: 'Please lower the quantity or pick another product.' };
    case 'UNAUTHENTICATED':
      return { title: 'Please sign in.', text: 'Your session has ended or you are not signed in yet.' };
    case 'VALIDATION_FAILED':
      return { title: 'Please check the form.', text: error.detail ?? '' };
    case 'EMAIL_TAKEN':
      return { title: 'That email already has an account.', text: 'Please sign in instead.' };
  }
  if (error.transient) {
    const wait = error.retryAfter ? ` Please try again in ${error.retryAfter} s.` : ' Please try again in a moment.';
    return { title: `We could not ${doing}.`, text: `Something on our side is busy or down.${wait}` };
  }
  return { title: `We could not ${doing}.`, text: 'Something went wrong on our side.' };
}

function showProblem(error: ProblemError<Partial<{ code: string }>>, doing: string, retry?: () => void): void {
  const { title, text } = friendly(error, doing);
  $('message-title').textContent = title;
  $('message-text').textContent = ` ${text}`;
  $('message-request-id').textContent = error.requestId;
  $('message-reference').hidden = !error.requestId;
  const button = $<HTMLButtonElement>('message-retry');
  button.hidden = !retry;
  button.onclick = retry
    ? () => {
        clearMessages();
        retry();
      }
    : null;
  $('message').hidden = false;
  $('info').hidden = true;
}

function showInfo(text: string): void {
  $('info').textContent = text;
  $('info').hidden = false;
  $('message').hidden = true;
}

function clearMessages(): void {
  $('message').hidden = true;
  $('info').hidden = true;
}

// ---- account ---------------------------------------------------------------------------------

function renderSession(): void {
  const signedIn = sessionStorage.getItem(STORE.token) !== null;
  $('sign-in').hidden = signedIn;
  $('signed-in').hidden = !signedIn;
}

async function signIn(email: string, password: string, create: boolean): Promise<void> {
  if (create) {
    const { error } = await api.POST('/v1/accounts', { body: { email, password, name: email.split('@')[0] } });
    if (error) return showProblem(error, 'create your account', () => void signIn(email, password, create));
  }
  const { data, error } = await api.POST('/v1/auth/token', { body: { email, password } });
  if (error) return showProblem(error, 'sign you in', () => void signIn(email, password, false));
  sessionStorage.setItem(STORE.token, data.accessToken);
  renderSession();
  showInfo('Signed in.');
  void flushOutbox();
}

// ---- catalog ---------------------------------------------------------------------------------

function renderCatalog(items: Product[], savedAt?: string): void {
  const rows = items.map((p) => {
    const tr = document.createElement('tr');
    for (const text of [p.name, p.sku, `${(p.priceCents / 100).toFixed(2)} ${p.currency}`, String(p.stock)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('catalog-items').replaceChildren(...rows);
  $('catalog-saved').hidden = savedAt === undefined;
  if (savedAt) $('catalog-saved-at').textContent = new Date(savedAt).toLocaleString();
  const select = document.querySelector<HTMLSelectElement>('#order-form select[name=productId]')!;
  const chosen = select.value || read<Record<string, string>>(localStorage, STORE.draft)?.productId;
  select.replaceChildren(
    ...items
      .filter((p) => p.status === 'active')
      .map((p) => new Option(`${p.name} (${(p.priceCents / 100).toFixed(2)} ${p.currency})`, p.id)),
  );
  if (chosen) select.value = chosen;
}

async function loadCatalog(): Promise<void> {
  const { data, error } = await api.GET('/v1/products', { params: { query: { limit: 50 } } });
  if (data) {
    const saved: SavedCatalog = { savedAt: new Date().toISOString(), items: data.items as Product[] };
    write(localStorage, STORE.catalog, saved);
    renderCatalog(saved.items);
    return;
  }
  // The last good catalog, marked as saved data, beside the message: the page stays useful.
  const saved = read<SavedCatalog>(localStorage, STORE.catalog);
  if (saved) renderCatalog(saved.items, saved.savedAt);
  showProblem(error, 'refresh the catalog', () => void loadCatalog());
}

// ---- order (draft kept across reloads) ---------------------------------------------------------

function saveDraft(form: HTMLFormElement): void {
  write(localStorage, STORE.draft, Object.fromEntries(new FormData(form) as unknown as Iterable<[string, string]>));
  $('order-draft').hidden = false;
}

function restoreDraft(form: HTMLFormElement): void {
  const draft = read<Record<string, string>>(localStorage, STORE.draft);
  if (!draft) return;
  for (const [name, value] of Object.entries(draft)) {
    const field = form.elements.namedItem(name);
    if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = value;
  }
  $('order-draft').hidden = false;
}

async function placeOrder(form: HTMLFormElement): Promise<void> {
  const fields = new FormData(form);
  const body = {
    items: [{ productId: String(fields.get('productId')), quantity: Number(fields.get('quantity')) }],
    paymentToken: String(fields.get('paymentToken')),
  };
  // One logical call: its Idempotency-Key is reused on every automatic retry. A press of "Try again"
  // after a failure is a new call: the failures it offers it for (no answer, 5xx) charged nothing or
  // will be settled by the API's reconciliation, never charged twice under one order.
  const { data, error } = await api.POST('/v1/orders', { body });
  if (error) return showProblem(error, 'place your order', error.transient ? () => void placeOrder(form) : undefined);
  localStorage.removeItem(STORE.draft);
  $('order-draft').hidden = true;
  showInfo(`Thank you: order ${data.id} is ${data.status}.`);
  void loadCatalog();
}

// ---- reports (queued while the API is unreachable) --------------------------------------------

function outbox(): ReportRequest[] {
  return read<ReportRequest[]>(localStorage, STORE.outbox) ?? [];
}

function renderOutbox(): void {
  const queued = outbox().length;
  $('report-queued-count').textContent = String(queued);
  $('report-queued').hidden = queued === 0;
}

function addResult(text: string): void {
  const li = document.createElement('li');
  li.textContent = text;
  $('report-results').append(li);
}

async function requestReport(request: ReportRequest): Promise<'sent' | 'queued' | 'failed'> {
  const { data, error } = await api.POST('/v1/reports', {
    body: { type: request.type, from: request.from, to: request.to },
  });
  if (data) {
    addResult(`Report ${data.id} requested (${request.from} to ${request.to}): ${data.status}.`);
    return 'sent';
  }
  if (error.transient) return 'queued';
  showProblem(error, 'request the report');
  return 'failed';
}

let flushing = false;
/** Sends queued report requests in order; stops at the first that still cannot get through. */
async function flushOutbox(): Promise<void> {
  if (flushing || sessionStorage.getItem(STORE.token) === null) return;
  flushing = true;
  try {
    for (let queue = outbox(); queue.length > 0; queue = outbox()) {
      const outcome = await requestReport(queue[0]);
      if (outcome === 'queued') return;
      write(localStorage, STORE.outbox, outbox().slice(1));
      renderOutbox();
      if (outcome === 'sent') {
        showInfo('The shop is reachable again: your saved report request was sent.');
        // Reachable again: the saved catalog on show is replaced by a fresh one.
        if (!$('catalog-saved').hidden) void loadCatalog();
      }
    }
  } finally {
    flushing = false;
    renderOutbox();
  }
}

async function submitReport(form: HTMLFormElement): Promise<void> {
  const fields = new FormData(form);
  const request: ReportRequest = {
    type: 'sales-summary',
    from: String(fields.get('from')),
    to: String(fields.get('to')),
    queuedAt: new Date().toISOString(),
  };
  if (outbox().length > 0) {
    // Keep the order: behind the ones already waiting.
    write(localStorage, STORE.outbox, [...outbox(), request]);
    renderOutbox();
    return void flushOutbox();
  }
  const outcome = await requestReport(request);
  if (outcome === 'queued') {
    // The note beside the form says it is saved; a message about an earlier failure (its request id) stays up.
    write(localStorage, STORE.outbox, [...outbox(), request]);
    renderOutbox();
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function start(): void {
  const signInForm = $<HTMLFormElement>('sign-in');
  signInForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = new FormData(signInForm);
    const create = (event.submitter as HTMLButtonElement | null)?.value === 'sign-up';
    void signIn(String(fields.get('email')), String(fields.get('password')), create);
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(STORE.token);
    renderSession();
  });
  $('catalog-refresh').addEventListener('click', () => {
    clearMessages();
    void loadCatalog();
  });
  const orderForm = $<HTMLFormElement>('order-form');
  restoreDraft(orderForm);
  orderForm.addEventListener('input', () => saveDraft(orderForm));
  orderForm.addEventListener('change', () => saveDraft(orderForm));
  orderForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearMessages();
    void placeOrder(orderForm);
  });
  const reportForm = $<HTMLFormElement>('report-form');
  reportForm.addEventListener('submit', (event) => {
    event.preventDefault();
    // An open message (and the request id it quotes) stays: the report is queued beside it when the API is down.
    void submitReport(reportForm);
  });
  window.addEventListener('online', () => void flushOutbox());
  setInterval(() => {
    if (outbox().length > 0) void flushOutbox();
  }, OUTBOX_INTERVAL_MS);

  renderSession();
  renderOutbox();
  // Whatever was saved shows at once; the fresh catalog replaces it when it arrives.
  const saved = read<SavedCatalog>(localStorage, STORE.catalog);
  if (saved) renderCatalog(saved.items);
  void loadCatalog();
  void flushOutbox();
  document.body.dataset.ready = 'true';
}

start();
