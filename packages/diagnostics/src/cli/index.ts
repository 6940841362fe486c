import { readFileSync } from 'node:fs';
import { DiagnosticsError, DiagnosticsErrorCode } from '../errors.js';
import { DOCTOR_HELP, HELP, INVOCATION, parseArgs, WATCH_HELP } from './args.js';
import { doctor } from './doctor.js';
import { watch } from './watch.js';

// A closed pipe (`offthread doctor ... | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  switch (args.command) {
    case 'help':
      process.stdout.write(
        args.helpFor === 'doctor' ? DOCTOR_HELP : args.helpFor === 'watch' ? WATCH_HELP : HELP,
      );
      return 0;
    case 'version': {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case 'doctor':
      return doctor(args);
    case 'watch':
      return watch(args);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof DiagnosticsError) {
      process.stderr.write(`offthread: ${err.message}\n`);
      process.exitCode = err.code === DiagnosticsErrorCode.USAGE ? 2 : 3;
    } else {
      process.stderr.write(
        `offthread: unexpected error: ${(err as Error)?.stack ?? err}\nPlease report it with the command you ran (${INVOCATION} ...).\n`,
      );
      process.exitCode = 3;
    }
  },
);
