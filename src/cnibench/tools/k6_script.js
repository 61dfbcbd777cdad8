// cnibench ingress load, rendered from a template: the thesis's k6 script (GET the gateway's /echo, read which
// backend answered from "Hostname: <pod>"), but backends are counted with a tagged Counter instead of a log
// line per request (logging each request throttles k6 and floods the disk).
import http from 'k6/http';
import { Counter } from 'k6/metrics';

// the playbook passes the address the Gateway got (--env CNIBENCH_TARGET=...); the rendered one otherwise
const TARGET = __ENV.CNIBENCH_TARGET || $target;
const BACKENDS = $backends;
const backendHits = new Counter('backend_hits');

const thresholds = { http_req_failed: [$failed_threshold] };
// k6 exports a tagged sub-metric in its summary only when a threshold is defined on it (k6 issue #1321);
// 'none' counts answers without a Hostname line.
for (const pod of [...BACKENDS, 'none']) {
  thresholds['backend_hits{pod:' + pod + '}'] = ['count>=0'];
}

// the load: closed (vus and duration: as fast as they go) or open (a constant-arrival-rate scenario: a fixed
// number of requests per second whatever the answers take; the ones no free VU could start are dropped_iterations)
export const options = Object.assign($load, {
  noConnectionReuse: $no_connection_reuse,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds: thresholds,
});

export default function () {
  const res = http.get(TARGET);
  const match = typeof res.body === 'string' ? res.body.match(/Hostname:\s*(\S+)/) : null;
  backendHits.add(1, { pod: match ? match[1] : 'none' });
}
