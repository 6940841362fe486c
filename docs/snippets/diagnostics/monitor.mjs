import { createMonitor } from '@offthread/diagnostics';

// In your app: start a monitor once, on the main thread. Its timers never keep the
// process alive.
const monitor = createMonitor({
  blockThreshold: 50,
  sampleInterval: 1000,
}).start();

// Told when the loop was blocked for longer than blockThreshold, with the stack that ran
// most.
monitor.on('block', (block) => {
  const top = block.stack[0];
  console.warn(
    `event loop blocked ${Math.round(block.duration)} ms`,
    top ? `in ${top.functionName}` : '',
  );
});

// Every sampleInterval: delay percentiles, utilization, libuv thread-pool numbers, CPU,
// memory.
monitor.on('sample', (sample) => {
  const { delay, utilization } = sample.eventLoop;
  const { size, saturation, wait } = sample.threadpool;
  console.log(
    `delay p99 ${delay.p99.toFixed(1)} ms, ELU ${(utilization * 100).toFixed(0)}%,`,
    `thread pool ${size} threads, ${(saturation * 100).toFixed(0)}% saturated, ` +
      `wait p99 ${wait.p99} ms`,
  );
});

// Something to see: 200 ms of synchronous work.
setTimeout(() => {
  const until = Date.now() + 200;
  while (Date.now() < until);
}, 100);

setTimeout(() => {
  const { sinceStart } = monitor.snapshot();
  console.log(`blocks since start: ${sinceStart.eventLoop.blockCount}`);
  monitor.stop();
}, 1500);
