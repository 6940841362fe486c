// offthread task module for the BullMQ comparison: the same bodies as every other benchmark.
export { cpu, tiny } from '../tasks/shared.mjs';
