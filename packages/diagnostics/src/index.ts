export {
  type BaselineComparison,
  type BaselineMetric,
  compareToBaseline,
} from './baseline.js';
export { DiagnosticsError, DiagnosticsErrorCode } from './errors.js';
export {
  createOpenTelemetryBridge,
  type OpenTelemetryBridge,
  type OpenTelemetryBridgeOptions,
} from './exporters/opentelemetry.js';
export {
  createPrometheusCollector,
  type PrometheusCollector,
  type PrometheusCollectorOptions,
} from './exporters/prometheus.js';
export type { CallFrame, MergedProfile, ProfileNode } from './flame.js';
export { renderHtmlReport } from './html.js';
export { createMonitor, type Monitor, type MonitorEvents } from './monitor.js';
export {
  defaultMonitorOptions,
  type MonitorMode,
  type MonitorOptions,
  type ProfileBlocks,
  productionMonitorOptions,
} from './options.js';
export {
  type FormatReportOptions,
  formatReport,
  type LoadSummary,
  type RunReport,
} from './report.js';
export { type ThreadpoolCounting, threadpoolSize } from './threadpool.js';
export type {
  Block,
  DelayStats,
  EventLoopStats,
  HotFunction,
  LoopCounters,
  PoolSample,
  ProcessStats,
  ProfileStats,
  Sample,
  Snapshot,
  StackFrame,
  ThreadpoolCounts,
  ThreadpoolStats,
  WaitStats,
} from './types.js';
export {
  type DiagnoseInput,
  type DiagnoseOptions,
  defaultDiagnoseOptions,
  diagnose,
  type Finding,
  formatFrame,
  type Verdict,
  type VerdictKind,
} from './verdict.js';
