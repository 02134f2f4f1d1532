import { Global, Module } from '@nestjs/common';
import { RedisConnectionsService } from './redis-connections.service';

/** Named Redis connections (cache, queue producer, queue worker), one owner for all of them. */
@Global()
@Module({ providers: [RedisConnectionsService], exports: [RedisConnectionsService] })
export class RedisModule {}
