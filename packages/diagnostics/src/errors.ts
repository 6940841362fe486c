/**
 * Every error @offthread/diagnostics raises itself is a {@link DiagnosticsError} with one of
 * these codes. Option validation throws plain `TypeError`/`RangeError` naming the option.
 */
export const DiagnosticsErrorCode = {
  /** An optional peer (`prom-client`, `@opentelemetry/api`) is not installed. Install it next to your app. */
  PEER_MISSING: 'ERR_OFFTHREAD_DIAG_PEER_MISSING',
  /** `snapshot()` was called before `start()`. Start the monitor first. */
  NOT_STARTED: 'ERR_OFFTHREAD_DIAG_NOT_STARTED',
  /** The inspector module is unavailable (Node built without it), so blocks cannot be profiled. */
  INSPECTOR_UNAVAILABLE: 'ERR_OFFTHREAD_DIAG_INSPECTOR_UNAVAILABLE',
  /** CLI: the command could not be started (e.g. not found on PATH). */
  SPAWN_FAILED: 'ERR_OFFTHREAD_DIAG_SPAWN_FAILED',
  /** CLI: the command exited with a non-zero code or a signal before the run ended. */
  EXITED_EARLY: 'ERR_OFFTHREAD_DIAG_EXITED_EARLY',
  /** CLI: `--load` was given but the command never listened on a TCP port in time. */
  NEVER_LISTENED: 'ERR_OFFTHREAD_DIAG_NEVER_LISTENED',
  /** CLI: the command line could not be parsed. Run `offthread --help`. */
  USAGE: 'ERR_OFFTHREAD_DIAG_USAGE',
} as const;

export type DiagnosticsErrorCode = (typeof DiagnosticsErrorCode)[keyof typeof DiagnosticsErrorCode];

/** The one error class of @offthread/diagnostics. Switch on `code`, never on the message. */
export class DiagnosticsError extends Error {
  override name = 'DiagnosticsError';
  readonly code: DiagnosticsErrorCode;
  /** For `EXITED_EARLY`: the command's exit code (null when it died by a signal). */
  declare exitCode?: number | null;

  constructor(
    code: DiagnosticsErrorCode,
    message: string,
    details: { cause?: unknown; exitCode?: number | null } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
  }
}
