import { HttpMetrics } from './http-metrics.hooks';
import { MetricsService } from '../../kernel/metrics/metrics.service';

describe('HttpMetrics.record', () => {
  const setup = () => {
    const metrics = new MetricsService();
    return { metrics, http: new HttpMetrics(metrics) };
  };

  it('observes seconds into the series of method, route template, status and problem code', async () => {
    const { metrics, http } = setup();
    http.record('GET', '/v1/products/:id', {}, 200, 12.5, undefined);
    http.record('GET', '/v1/products/:id', {}, 200, 7.5, undefined);
    http.record('GET', '/v1/products/:id', {}, 404, 3, 'PRODUCT_NOT_FOUND');
    const text = await metrics.render();
    const ok = 'http_request_method="GET",http_route="/v1/products/:id",http_response_status_code="200"';
    expect(text).toContain(`http_server_request_duration_seconds_count{${ok}} 2`);
    expect(text).toContain(`http_server_request_duration_seconds_sum{${ok}} 0.02`);
    expect(text).toContain(`http_server_request_duration_seconds_bucket{le="0.01",${ok}} 1`);
    expect(text).toContain(
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/v1/products/:id",http_response_status_code="404",error_type="PRODUCT_NOT_FOUND"} 1',
    );
  });

  it('counts attempts and failures of the flow the route declares, and nothing for other routes', async () => {
    const { metrics, http } = setup();
    http.record('POST', '/v1/auth/token', { businessFlow: 'login' }, 200, 1, undefined);
    http.record('POST', '/v1/auth/token', { businessFlow: 'login' }, 401, 1, 'UNAUTHENTICATED');
    http.record('POST', '/v1/auth/token', { businessFlow: 'login' }, 503, 1, 'DEPENDENCY_UNAVAILABLE');
    http.record('GET', '/v1/products', {}, 500, 1, 'INTERNAL_ERROR');
    const text = await metrics.render();
    expect(text).toContain('business_flow_attempts_total{flow="login"} 3');
    expect(text).toContain('business_flow_failures_total{flow="login",code="UNAUTHENTICATED"} 1');
    expect(text).toContain('business_flow_failures_total{flow="login",code="DEPENDENCY_UNAVAILABLE"} 1');
    expect(text).not.toMatch(/business_flow_\w+\{[^}]*INTERNAL_ERROR/);
    expect(text.match(/^business_flow_attempts_total\{/gm)).toHaveLength(1);
  });
});
