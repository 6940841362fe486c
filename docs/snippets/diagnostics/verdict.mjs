import { createMonitor, diagnose } from '@offthread/diagnostics';

// The same verdict `offthread doctor` prints, computed in-process, e.g. for a /debug route.
// profileBlocks: true profiles from the start, so even the first block gets its stack.
const monitor = createMonitor({ profileBlocks: true }).start();

setTimeout(() => {
  const until = Date.now() + 150; // a blocking step
  while (Date.now() < until);
}, 50);

setTimeout(() => {
  const snapshot = monitor.snapshot();
  const verdict = diagnose({
    sinceStart: snapshot.sinceStart,
    profile: snapshot.profile,
  });
  console.log(verdict.kind); // event-loop-blocked
  for (const finding of verdict.findings)
    console.log(finding.title, '->', finding.recommendation);
  monitor.stop();
}, 1200);
