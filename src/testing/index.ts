/**
 * Stand-ins for testing code built on ridethrough: servers and helpers that behave like the
 * infrastructure a controller meets, faults included.
 *
 * @module
 */
export {
  startFakeApiServer, kubeStatus, statusCodes, type FakeApiServer, type FakeApiServerOptions, type FakeApiAnswer, type FakeApiReply, type FakeApiReset, type FakeApiRequest, type FakeApiTarget, type FakeObject, type FakeResource, type KubeStatusOptions, type StatusReason,
} from './fake-api-server.js';
