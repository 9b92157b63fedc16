/**
 * The stand-in API server of the tests, examples and benchmarks: `startFakeApiServer` from
 * `ridethrough/testing` (src/testing/fake-api-server.ts) under its older names, plus `kubeConfig()`,
 * which loads `@kubernetes/client-node` on first use (src/ may not load it; it takes seconds
 * through tsx, and a user that speaks plain HTTP never needs it).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import {
  startFakeApiServer,
  type FakeApiAnswer,
  type FakeApiReply,
  type FakeApiRequest,
  type FakeApiServer,
  type FakeApiServerOptions,
} from '../../src/testing/fake-api-server.js';

export { kubeStatus, statusCodes, type KubeStatusOptions, type StatusReason } from '../../src/testing/fake-api-server.js';
export type KubeApiAnswer = FakeApiAnswer;
export type KubeApiReply = FakeApiReply;
export type KubeApiRequest = FakeApiRequest;
export type KubeApiServerOptions = FakeApiServerOptions;

/** A running stand-in, with a client-node `KubeConfig` for it. */
export interface KubeApiServer extends FakeApiServer {
  /** A client-node `KubeConfig` for this server; async because it loads client-node on first use. */
  kubeConfig(): Promise<KubeConfig>;
}

/** Starts a stand-in on 127.0.0.1 on a free port. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const api = await startFakeApiServer(options);
  return Object.assign(api, {
    async kubeConfig(): Promise<KubeConfig> {
      const clientNode = await import('@kubernetes/client-node');
      const config = new clientNode.KubeConfig();
      config.loadFromOptions(api.kubeConfigOptions());
      return config;
    },
  });
}
