// A plain BullMQ sandboxed processor (run in a worker thread with useWorkerThreads): the same
// task bodies, dispatched on the job's name.
import { cpu, tiny } from '../tasks/shared.mjs';

export default async function process(job) {
  return job.name === 'cpu' ? cpu(job.data) : tiny(job.data);
}
