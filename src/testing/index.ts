/**
 * `ridethrough/testing`: stand-ins for the faults ridethrough rides through, to test your own
 * controller, operator or agent with: they behave like the real thing on this machine, with no
 * cluster and no network beyond 127.0.0.1.
 *
 * - {@link projectVolume} / {@link KubeletVolume}: a ConfigMap or Secret volume updated the way
 *   kubelet's AtomicWriter does it (new `..<timestamp>` directory, `..data` swapped by rename).
 * - {@link FakeClock}: a `Clock` whose time moves only when the test says so, for schedules.
 * - {@link startTlsAlertServer}: a kubelet that answers TLS alert 80 until its certificate is approved.
 * - {@link startFaultServer}: an HTTP upstream that answers 503 with Retry-After, resets
 *   connections or delays, on demand.
 * - {@link startFakeApiServer}: a Kubernetes API server (list, watch, bookmarks, writes) with
 *   faults on demand: dropped watches, compaction (410), 429, 503, resets, restarts.
 *
 * Every server listens on a free port of 127.0.0.1, and `close()` (or `await using`) leaves no
 * socket, timer or server behind.
 *
 * ```ts
 * import { retry } from 'ridethrough/retry';
 * import { startFaultServer } from 'ridethrough/testing';
 *
 * await using upstream = await startFaultServer();
 * upstream.inject({ status: 503, retryAfter: 0 }); // the first request fails, the next succeeds
 * const status = await retry(async () => {
 *   const response = await fetch(upstream.url);
 *   if (response.status >= 500) throw Object.assign(new Error('unavailable'), { status: response.status });
 *   return response.status;
 * }, { initialDelayMs: 10 });
 * console.log(status, upstream.requests.length); // 200 2
 * ```
 *
 * Guides: the scenarios ([Scenario: logs from a node that is not ready](../../docs/guides/scenario-log-stream.md),
 * [Scenario: starting while the API server is unreachable](../../docs/guides/scenario-offline-startup.md)) use them.
 *
 * @module
 */
export { FakeClock, flush, type FakeClockOptions, type SleepLog } from './fake-clock.js';
export { startFaultServer, type Fault, type FaultRequest, type FaultServer, type FaultServerHandler, type FaultServerOptions } from './fault-server.js';
export { KubeletVolume, projectVolume, type KubeletVolumeOptions, type SwapResult, type SwapStep, type VolumePayload } from './kubelet-volume.js';
export { startTlsAlertServer, TLS_ALERT_INTERNAL_ERROR, type TlsAlertServer, type TlsApproval } from './tls-alert-server.js';
export {
  startFakeApiServer, kubeStatus, statusCodes, type FakeApiServer, type FakeApiServerOptions, type FakeKubeConfigOptions, type FakeApiAnswer, type FakeApiReply, type FakeApiReset, type FakeApiRequest, type FakeApiTarget, type FakeObject, type FakeObjectMetadata, type FakeResource, type KubeStatusOptions, type StatusReason,
} from './fake-api-server.js';
