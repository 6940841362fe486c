import { isOffThreadError, OffThreadErrorCode, Pool } from '@offthread/core';

const pool = new Pool({
  filename: new URL('./tasks.mjs', import.meta.url),
  maxQueue: 100,
});

/**
 * Map pool failures to what an HTTP API would answer. Switch on `code`, never on
 * messages.
 */
export async function hashOrStatus(
  text: string,
): Promise<{ status: number; body: string }> {
  try {
    return {
      status: 200,
      body: await pool.run<string>(text, { timeout: 2_000 }),
    };
  } catch (error) {
    // thrown by the task itself: arrives unwrapped
    if (!isOffThreadError(error)) throw error;
    switch (error.code) {
      case OffThreadErrorCode.QUEUE_FULL:
        return { status: 503, body: 'busy, retry later' }; // shed load
      case OffThreadErrorCode.TIMEOUT:
        return { status: 504, body: `took longer than ${error.timeout} ms` };
      default:
        throw error; // WORKER_INIT, TASK_NOT_FOUND... are bugs: let them surface
    }
  }
}

console.log(await hashOrStatus('hello'));
await pool.close();
