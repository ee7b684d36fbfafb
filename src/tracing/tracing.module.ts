import { Injectable, Module } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { shutdownTracing } from './tracing.js';

@Injectable()
class TracingShutdown implements OnApplicationShutdown {
  /** Sends the spans still buffered before the process exits. */
  async onApplicationShutdown(): Promise<void> {
    await shutdownTracing();
  }
}

@Module({ providers: [TracingShutdown] })
export class TracingModule {}
