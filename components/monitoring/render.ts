/**
 * Everything the orchestration machine's Prometheus and Alertmanager read, as files: the
 * component stages exactly these, and .ci/monitoring.sh renders them (cli.ts) to check them
 * with the real promtool/amtool.
 */
import { alertmanagerConfig, expectationRules, Expectations, prometheusConfig, PrometheusSettings, renderYaml } from "./config";
import { MonitoringFile, readRulesAndConsoles } from "./files";

export interface OrchestrationFilesSettings {
  readonly prometheus: PrometheusSettings;
  readonly webhook: boolean;
  readonly expectations: Expectations;
  /** Source tree of the static rules and consoles. Default: this repository. */
  readonly sourceRoot?: string;
}

export function orchestrationFiles(s: OrchestrationFilesSettings): MonitoringFile[] {
  return [
    { path: "prometheus.yml", content: renderYaml(prometheusConfig(s.prometheus)), mode: "0644" },
    { path: "alertmanager.yml", content: renderYaml(alertmanagerConfig({ webhook: s.webhook })), mode: "0644" },
    { path: "rules/expectations.yml", content: renderYaml(expectationRules(s.expectations)), mode: "0644" },
    ...readRulesAndConsoles(s.sourceRoot),
  ];
}
