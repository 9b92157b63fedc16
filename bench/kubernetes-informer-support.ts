/** What bench/kubernetes-informer.bench.ts and its fault cases share: the pods, the KubeConfig, a poll. */
import { KubeConfig } from '@kubernetes/client-node';
import type { FakeApiServer, FakeObject, FakeResource } from 'ridethrough/testing';

export const PATH = '/api/v1/namespaces/default/pods';
export const resources: readonly FakeResource[] = [{ plural: 'pods', kind: 'Pod' }];

/** A pod about the size of a real, small one (about 700 bytes of JSON once stamped). */
export function podBody(i: number): FakeObject {
  return {
    metadata: {
      name: `web-${i}`,
      namespace: 'default',
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d9c7b8f6' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-30T10:00:00Z' },
      uid: `0b6e2f5c-1d0e-4c55-9a7e-${String(i).padStart(12, '0')}`,
    },
    spec: {
      nodeName: `node-${i % 7}`,
      containers: [
        {
          name: 'main',
          image: 'registry.example/web:1.4.2',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MODE', value: 'production' }, { name: 'INDEX', value: String(i) }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        },
      ],
    },
    status: { phase: 'Running', podIP: `10.0.${(i >> 8) & 255}.${i & 255}` },
  };
}

export function kubeConfigFor(api: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  return kc;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` holds; rejects naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

