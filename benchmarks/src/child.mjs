/**
 * One measurement in a fresh process: `node --expose-gc child.mjs <runner> <scenario> <params>`.
 * Sends `{ ok: true, metrics }` or `{ ok: false, error }` to the parent over IPC, then exits
 * (so a pool that leaves a handle open cannot keep the process alive).
 */
import { progress, scenarios, warnings } from './scenarios.mjs';

const [runnerName, scenarioName, paramsJson] = process.argv.slice(2);

// Keep the event loop referenced for the whole measurement: poolifier's destroy() awaits
// only unref'd handles for a moment, and without this the process can exit with code 13
// (unsettled top-level await) in the middle of `await pool.close()`.
const keepAlive = setInterval(() => {}, 1 << 30);

// The driver sends SIGTERM when a run exceeds its time limit: say where it was stuck.
process.on('SIGTERM', () => {
  process.stderr.write(`stopped during: ${progress.phase}\n`);
  process.exit(124);
});

/** @param {unknown} message */
function reply(message) {
  clearInterval(keepAlive);
  if (process.send) process.send(message, () => process.exit(0));
  else {
    console.log(JSON.stringify(message));
    process.exit(0);
  }
}

try {
  const scenario = scenarios[scenarioName];
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}`);
  const load = () => import(`./runners/${runnerName}.mjs`);
  const metrics = await scenario(load, JSON.parse(paramsJson));
  reply({ ok: true, metrics, warnings });
} catch (err) {
  const e = /** @type {Error} */ (err);
  reply({ ok: false, error: e?.stack ?? String(err), warnings });
}
