// config-task.mjs: per-thread state that a broadcast sets and tasks read.
let settings = { greeting: 'hello' };

export function reloadSettings(next) {
  settings = next;
}

export function greet(name) {
  return `${settings.greeting}, ${name}`;
}
