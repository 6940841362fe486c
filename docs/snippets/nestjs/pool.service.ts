import { Injectable } from '@nestjs/common';
import type { Pool } from '@offthread/core';
import { InjectPool } from '@offthread/nestjs';

/** The module's pool is injectable too, for task modules of your own. */
@Injectable()
export class ThumbnailService {
  constructor(@InjectPool() private readonly pool: Pool) {}

  thumbnail(image: Uint8Array): Promise<Uint8Array> {
    return this.pool.run(image, {
      filename: require.resolve('./thumbnail.task.js'),
      timeout: 2_000,
    });
  }
}
