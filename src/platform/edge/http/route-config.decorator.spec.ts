import 'reflect-metadata';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { BusinessFlow } from './business-flow.decorator';
import { LoadPriorityOf } from './overload.hooks';

describe('AddRouteConfig', () => {
  it('keeps every decorator’s member of the route config, in either order', () => {
    class Routes {
      @BusinessFlow('login')
      @LoadPriorityOf('critical')
      login(): void {}

      @LoadPriorityOf('critical')
      @BusinessFlow('signup')
      signup(): void {}
    }
    expect(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, Routes.prototype.login)).toEqual({
      businessFlow: 'login',
      loadPriority: 'critical',
    });
    expect(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, Routes.prototype.signup)).toEqual({
      businessFlow: 'signup',
      loadPriority: 'critical',
    });
  });
});
