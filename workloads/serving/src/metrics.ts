import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(role: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'serving_http_request_duration_seconds',
      help: 'HTTP request latency by route, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    publishFailures: new Counter({ name: 'serving_publish_failures_total', help: 'Tasks the API could not publish (503 answered)', labelNames: ['reason'], registers: [registry] }),
    tasks: new Counter({ name: 'serving_tasks_total', help: 'Tasks by outcome (api: accepted/rejected; worker: done/failed/retried/duplicate)', labelNames: ['outcome'], registers: [registry] }),
    inference: new Histogram({ name: 'serving_inference_duration_seconds', help: 'ONNX inference time per micro-batch', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1], registers: [registry] }),
    coalesced: new Histogram({ name: 'serving_coalesced_tasks', help: 'Tasks per published message (API request coalescing)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    modelInfo: new Gauge({ name: 'serving_model_info', help: 'Model version in use (value 1 for the current version)', labelNames: ['version'], registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function setModelVersion(m: Metrics, version: string): void {
  m.modelInfo.reset();
  m.modelInfo.set({ version }, 1);
}
